import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { docker, Platform, ROOT } from './support/platform';

/**
 * Disk hygiene: `npm run gc` and the node gc job remove what this instance left and nothing needs (a dangling image
 * with its labels, the volume of a deleted app, old rotated logs) and leave everything else: the running app's
 * images and volumes, and an image without Gearshift's labels.
 */
describe('disk hygiene', { timeout: 900_000 }, () => {
  let p: Platform;
  let webId: string;
  let dataId: string;
  let labelled: string;
  let plain: string;
  let leftover: string;
  const apps = '/domains/gc/apps';
  const huge = String(16 * 1024 * 1024); // MB of build cache kept: the host's shared build cache is left alone

  const deploy = async (text: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'gearshift-gc-'));
    writeFileSync(
      join(dir, 'Dockerfile'),
      ['ARG GEARSHIFT_CARTRIDGE_IMAGE', 'FROM ${GEARSHIFT_CARTRIDGE_IMAGE}', 'COPY app.js /opt/app/app.js', 'CMD ["node", "/opt/app/app.js"]', ''].join('\n'),
    );
    writeFileSync(join(dir, 'app.js'), `require('http').createServer((q, s) => s.end(${JSON.stringify(text)})).listen(8080);\n`);
    const archive = execFileSync('tar', ['-cz', '-C', dir, '.']);
    rmSync(dir, { recursive: true, force: true });
    const res = await fetch(`${p.baseUrl}/api/v1${apps}/web/deployments?wait=300`, {
      method: 'POST',
      headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/gzip' },
      body: archive,
    });
    const body = (await res.json()) as { operation: { state: string; error: string } };
    assert.equal(body.operation?.state, 'succeeded', JSON.stringify(body));
  };
  /** A plain `docker build` of a tiny image from the base image, untagged: it is dangling at once. */
  const build = (lines: string[], labels: Record<string, string>) =>
    execFileSync('docker', ['build', '-q', ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]), '-'], {
      input: ['FROM gearshift/base:bookworm', ...lines, ''].join('\n'),
      encoding: 'utf8',
      env: { ...process.env, DOCKER_BUILDKIT: '0' },
    }).trim();
  const imageExists = (id: string) =>
    docker
      .getImage(id)
      .inspect()
      .then(() => true)
      .catch(() => false);
  const volumeExists = (name: string) =>
    docker
      .getVolume(name)
      .inspect()
      .then(() => true)
      .catch(() => false);
  const releaseImages = async () =>
    (await docker.listImages({ filters: JSON.stringify({ label: [`gearshift.instance=${p.instance}`, `gearshift.app=${webId}`] }) })).flatMap(
      (i) => i.RepoTags ?? [],
    );
  const appVolumes = async (appId: string) => (await p.volumes()).filter((v) => v.Labels?.['gearshift.app'] === appId).map((v) => v.Name);
  const gc = (...args: string[]) => {
    const r = spawnSync('npm', ['run', '--silent', 'gc', '--', ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      env: {
        ...process.env,
        DATABASE_URL: p.databaseUrl,
        GEARSHIFT_INSTANCE: p.instance,
        GEARSHIFT_DATA_DIR: p.dataDir,
        // The test's own state directory: no registry of its own, so the machine's registry is not touched.
        GEARSHIFT_STATE_DIR: p.dataDir,
        GEARSHIFT_BUILD_CACHE_MB: huge,
        GEARSHIFT_LOG_DAYS: '14',
        // The test's images are seconds old.
        GEARSHIFT_GC_GRACE_MINUTES: '0',
      },
    });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  const idOf = async (name: string) => {
    const db = new Client({ connectionString: p.databaseUrl });
    await db.connect();
    try {
      return (await db.query<{ id: string }>('select id from apps where name = $1', [name])).rows[0].id;
    } finally {
      await db.end();
    }
  };
  const rotated = () => join(p.dataDir, 'logs', 'broker.log.1');

  before(async () => {
    p = await Platform.start('gc', { node1: {} }, { router: true, env: { GEARSHIFT_BUILD_CACHE_MB: huge, GEARSHIFT_GC_GRACE_MINUTES: '0' } });
    assert.equal((await p.api('POST', '/domains', { name: 'gc' })).status, 201);
    const web = await p.api('POST', `${apps}?wait=240`, { name: 'web', cartridges: ['nodejs-18', 'postgresql-15'] });
    assert.equal(web.body.operation?.state, 'succeeded', JSON.stringify(web.body));
    webId = await idOf('web');
    await deploy('one');
    await deploy('two');
    const data = await p.api('POST', `${apps}?wait=240`, { name: 'data', cartridges: ['static', 'postgresql-15'] });
    assert.equal(data.body.operation?.state, 'succeeded', JSON.stringify(data.body));
    dataId = await idOf('data');
    assert.ok((await appVolumes(dataId)).length > 0, 'the database cartridge has a volume');
    const gone = await p.api('DELETE', `${apps}/data?wait=120`);
    assert.ok(gone.status === 200 || gone.status === 202 || gone.status === 204, JSON.stringify(gone.body));
    // A volume the node could not remove when the app was deleted (it was offline, say): labelled, its app gone.
    leftover = `${p.instance}-leftover`;
    await docker.createVolume({ Name: leftover, Labels: { 'gearshift.managed-by': 'gearshift', 'gearshift.instance': p.instance, 'gearshift.app': dataId } });
    labelled = build([`ENV GC_TEST=${p.instance}-labelled`], { 'gearshift.managed-by': 'gearshift', 'gearshift.instance': p.instance });
    plain = build([`ENV GC_TEST=${p.instance}-plain`], {});
    mkdirSync(join(p.dataDir, 'logs'), { recursive: true });
    writeFileSync(join(p.dataDir, 'logs', 'broker.log'), 'live\n');
    writeFileSync(rotated(), 'old\n'.repeat(100));
    const month = (Date.now() - 30 * 86_400_000) / 1000;
    utimesSync(rotated(), month, month);
  });
  after(async () => {
    for (const id of [plain, labelled])
      if (id)
        await docker
          .getImage(id)
          .remove({ force: true })
          .catch(() => undefined);
    if (leftover)
      await docker
        .getVolume(leftover)
        .remove()
        .catch(() => undefined);
    await p?.stop();
  });

  it('npm run gc -- --dry-run lists what it would remove, with sizes, and removes nothing', async () => {
    const out = gc('--dry-run');
    assert.match(out, new RegExp(`would remove dangling image ${labelled}`), out);
    assert.match(out, new RegExp(`would remove volume ${leftover}`), out);
    assert.match(out, /would remove log .*broker\.log\.1 \(400 B\)/, out);
    assert.doesNotMatch(out, new RegExp(plain.replace('sha256:', '')), out);
    assert.match(out, /^kind +would remove +would free$/m, out);
    assert.match(out, /^total +\d+ +\d+(\.\d)? (B|KB|MB|GB)$/m, out);
    assert.ok(await imageExists(labelled));
    assert.ok(await volumeExists(leftover));
    assert.ok(existsSync(rotated()));
  });

  it("the node's gc job removes the dangling labelled image and the deleted app's volume, and keeps the rest", async () => {
    const before = await releaseImages();
    assert.equal(before.length >= 2, true, `both releases' images are on the node: ${before.join(', ')}`);
    const webVolumes = await appVolumes(webId);
    assert.ok(webVolumes.length > 0);
    const nodes = await p.api('GET', '/nodes');
    const node = nodes.body[0].id as string;
    assert.equal((await p.api('POST', `/nodes/${node}/gc?dryRun=maybe`)).status, 400);
    const res = await p.api('POST', `/nodes/${node}/gc`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const names = (res.body.items as { kind: string; name: string; bytes: number }[]).map((i) => `${i.kind} ${i.name}`);
    assert.ok(names.includes(`dangling images ${labelled}`), names.join('\n'));
    assert.ok(names.includes(`volumes ${leftover}`), names.join('\n'));
    assert.ok(res.body.freedBytes > 0, JSON.stringify(res.body));
    assert.equal(await imageExists(labelled), false);
    assert.equal(await volumeExists(leftover), false);
    assert.ok(await imageExists(plain), 'an image without Gearshift labels is never removed');
    assert.deepEqual((await releaseImages()).sort(), before.sort());
    assert.deepEqual((await appVolumes(webId)).sort(), webVolumes.sort());
    const r = await p.viaRouter('web-gc.localhost');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'two');
  });

  it('npm run gc removes old rotated logs and prints what it freed', async () => {
    const out = gc('--no-registry');
    assert.match(out, /removed log .*broker\.log\.1 \(400 B\)/, out);
    assert.match(out, /^kind +removed +freed$/m, out);
    assert.match(out, /^logs +1 +400 B$/m, out);
    assert.equal(existsSync(rotated()), false);
    assert.ok(existsSync(join(p.dataDir, 'logs', 'broker.log')), 'the live log stays');
    assert.ok(await imageExists(plain));
    assert.equal((await p.viaRouter('web-gc.localhost')).body, 'two');
  });
});
