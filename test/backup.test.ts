import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, Platform, psqlIn, REGISTRY, registryHeaders, ROOT } from './support/platform';
import { removeInstance } from './support/docker';
import { dropDatabase } from './support/stores';
import { runBackupTool } from './support/backup-tool';

/**
 * Backup and restore of the platform itself: a platform with a domain, a static site with a release, an alias and a
 * user is backed up with `npm run backup`; its database, data directory, gears and release images are wiped; `npm
 * run restore` puts them back, and a broker started on the restored database has every app, release, alias and user
 * again, and the app answers through the router. A damaged or truncated archive is refused and changes nothing.
 */

describe('backup and restore of the platform', { timeout: 900_000 }, () => {
  let p: Platform;
  const work = mkdtempSync(join(tmpdir(), 'gearshift-backup-'));
  const archive = join(work, 'platform.tar.gz');
  const apps = '/domains/keep/apps';

  const run = (command: 'backup' | 'restore', file: string, ...flags: string[]) => runBackupTool(p, command, file, ...flags);

  const appCount = async () => (await p.api('GET', apps)).body.length;

  before(async () => {
    p = await Platform.start('backup', { node1: {} }, { router: true });
    assert.equal((await p.api('POST', '/domains', { name: 'keep' })).status, 201);
    assert.equal((await p.api('POST', `${apps}?wait=120`, { name: 'site', cartridges: ['static'] })).body.operation.state, 'succeeded');
    const dir = mkdtempSync(join(tmpdir(), 'gearshift-site-'));
    writeFileSync(join(dir, 'index.html'), '<h1>kept through a restore</h1>\n');
    writeFileSync(join(dir, 'health'), 'ok\n');
    const up = await fetch(`${p.baseUrl}/api/v1${apps}/site/deployments?wait=300`, {
      method: 'POST',
      headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/gzip' },
      body: execFileSync('tar', ['-cz', '-C', dir, '.']),
    });
    rmSync(dir, { recursive: true, force: true });
    assert.equal(((await up.json()) as { operation: { state: string } }).operation.state, 'succeeded', p.logs());
    assert.equal((await p.api('POST', `${apps}/site/aliases`, { host: 'www.kept.test' })).status, 201);
    assert.equal((await p.api('POST', '/users', { username: 'carol', password: 'carol-password-1' })).status, 201);
    const store = await p.api('POST', `${apps}?wait=180`, { name: 'store', cartridges: ['postgresql-15'] });
    assert.equal(store.body.operation?.state, 'succeeded', JSON.stringify(store.body));
    await psqlIn(p, 'store', "create table facts (text text); insert into facts values ('kept in the app data')");
    await eventually(
      'the alias to answer through the router',
      async () => (await p.viaRouter('www.kept.test').catch(() => null))?.body.includes('kept through'),
      60_000,
      100,
    );
  });

  after(async () => {
    await p?.stop();
    // The release images the restore pushed, should a failure have left them unpulled (stop() removes those it finds on this host).
    if (existsSync(archive)) {
      const { images } = JSON.parse(execFileSync('tar', ['-xzOf', archive, 'manifest.json'], { encoding: 'utf8' })) as {
        images: { repository: string; digest: string }[];
      };
      for (const i of images)
        await fetch(`http://${REGISTRY}/v2/${i.repository}/manifests/${i.digest}`, { method: 'DELETE', headers: registryHeaders() }).catch(() => undefined);
    }
    rmSync(work, { recursive: true, force: true });
  });

  it('writes one archive, readable by its owner alone, with the database, the key, the release image and a manifest', async () => {
    const r = run('backup', archive, '--with-app-data');
    assert.equal(r.status, 0, r.output);
    console.log(`# backup: ${r.ms} ms, ${statSync(archive).size} bytes`);
    assert.match(r.output, /==> dumping the database/);
    assert.match(r.output, /==> exporting the release images of 1 apps/);
    assert.equal(statSync(archive).mode & 0o777, 0o600);
    const listing = execFileSync('tar', ['-tzf', archive], { encoding: 'utf8' }).split('\n');
    for (const m of ['manifest.json', 'database.dump', 'data/secret.key', 'data/join-token']) assert.ok(listing.includes(m), `${m} in ${listing.join(' ')}`);
    const manifest = JSON.parse(execFileSync('tar', ['-xzOf', archive, 'manifest.json'], { encoding: 'utf8' }));
    assert.equal(manifest.gearshift.version, JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
    assert.match(manifest.migration, /^[A-Za-z]+\d{13}$/);
    assert.deepEqual(
      manifest.images.map((i: { repository: string; tag: string }) => i.tag),
      ['1'],
    );
    assert.deepEqual(
      manifest.appData.map((d: { domain: string; app: string }) => `${d.domain}/${d.app}`),
      ['keep/store'],
      'the static site has no data; the database app has',
    );
    assert.ok(manifest.members.every((m: { sha256: string }) => /^[0-9a-f]{64}$/.test(m.sha256)));
  });

  it('refuses a damaged or truncated archive before changing anything', async () => {
    const key = readFileSync(join(p.dataDir, 'secret.key'), 'utf8');
    const before = await appCount();
    const damaged = join(work, 'damaged.tar.gz');
    const bytes = readFileSync(archive);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(damaged, bytes);
    const truncated = join(work, 'truncated.tar.gz');
    writeFileSync(truncated, readFileSync(archive));
    truncateSync(truncated, Math.floor(statSync(archive).size * 0.7));
    const notGzip = join(work, 'notes.txt');
    writeFileSync(notGzip, 'not a backup\n');
    for (const file of [damaged, truncated, notGzip]) {
      const r = run('restore', file);
      assert.equal(r.status, 1, r.output);
      assert.match(r.output, /error: .*(damaged|truncated|not a whole)/);
      assert.match(r.output, /nothing was changed/);
    }
    // A whole archive is refused too while the platform runs.
    const running = run('restore', archive);
    assert.equal(running.status, 1, running.output);
    assert.match(running.output, /a broker answers at .*: stop the platform first/);
    assert.equal(readFileSync(join(p.dataDir, 'secret.key'), 'utf8'), key);
    assert.equal(await appCount(), before);
    assert.equal((await p.viaRouter('www.kept.test')).status, 200);
  });

  it('brings back every app, release, alias and user after the database and data directory are wiped', async () => {
    // Wipe: the platform stopped, its database dropped, its data directory, gears and release images removed.
    await p.stopBroker();
    await p.stopAgent('node1');
    await p.router!.kill();
    try {
      process.kill(Number(readFileSync(join(p.dataDir, 'router', 'haproxy.pid'), 'utf8')), 'SIGTERM');
    } catch {
      // no HAProxy running
    }
    await dropDatabase(p.database);
    rmSync(p.dataDir, { recursive: true, force: true });
    await removeInstance(p.instance);
    const repo = (JSON.parse(execFileSync('tar', ['-xzOf', archive, 'manifest.json'], { encoding: 'utf8' })).images[0] as { repository: string }).repository;
    const gone = await fetch(`http://${REGISTRY}/v2/${repo}/manifests/1`, {
      headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json', ...registryHeaders() },
    });
    assert.equal(gone.status, 404, 'the release image is gone from the registry');

    const r = run('restore', archive);
    assert.equal(r.status, 0, r.output);
    console.log(`# restore: ${r.ms} ms, ${statSync(archive).size} bytes`);
    assert.match(r.output, /==> replacing the database/);
    assert.match(r.output, /npm run up/);
    assert.match(r.output, /--with-app-data` puts back the data of 1 apps/);
    assert.equal(statSync(join(p.dataDir, 'secret.key')).mode & 0o777, 0o600);

    await p.startBroker();
    await p.login();
    await p.startAgent('node1');
    await p.startRouter();
    const site = await p.api('GET', `${apps}/site`);
    assert.equal(site.status, 200, JSON.stringify(site.body));
    const releases = (await p.api('GET', `${apps}/site/deployments`)).body as { number: number; state: string }[];
    assert.deepEqual(
      releases.map((d) => [d.number, d.state]),
      [[1, 'active']],
    );
    const aliases = (await p.api('GET', `${apps}/site/aliases`)).body as { host: string }[];
    assert.deepEqual(
      aliases.map((a) => a.host),
      ['www.kept.test'],
    );
    const carol = await p.api('POST', '/auth/login', { username: 'carol', password: 'carol-password-1' }, null);
    assert.equal(carol.status, 200, 'the user is back with her password');
    const answer = await eventually(
      'the restored app to answer through the router at its alias',
      async () => {
        const x = await p.viaRouter('www.kept.test').catch(() => null);
        return x?.status === 200 && x.body.includes('kept through a restore') && x;
      },
      180_000,
      250,
    ).catch((err: Error) => assert.fail(`${err.message}\n${p.logs()}`));
    assert.equal(answer.status, 200);
    assert.equal((await p.viaRouter('site-keep.localhost')).status, 200);

    // The second step, on the running platform: the database app's data from its snapshot.
    await eventually('the restored database gear to answer', async () => (await psqlIn(p, 'store', 'select 1').catch(() => '')).trim() === '1', 120_000, 500);
    assert.equal((await psqlIn(p, 'store', "select count(*) from pg_tables where tablename = 'facts'")).trim(), '0', 'the gear starts empty');
    const data = run('restore', archive, '--with-app-data');
    assert.equal(data.status, 0, data.output);
    console.log(`# restore of app data: ${data.ms} ms`);
    assert.equal((await psqlIn(p, 'store', 'select text from facts')).trim(), 'kept in the app data');
  });
});
