import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { hashFolder, kernelAddresses } from '@gearshift/cartridges';
import { Supervisor } from '../apps/supervisor/src/supervisor';
import { docker, eventually, Platform, REGISTRY, registryHeaders, ROOT } from './support/platform';
import { REGISTRY_AUTH } from './support/registry';

/**
 * The platform registry holds every tenant's releases: it asks for a password, release names carry the whole app id,
 * and a docker-image gear may name there only its own app's releases. An administrator alone may loosen how one
 * app's docker-image gears are confined. The platform's logs are for root alone and hold no password.
 */
describe('registry credentials and image sources', { timeout: 600_000 }, () => {
  let p: Platform;
  let bob: string;
  let alphaId: string;
  let release: string;
  const apps = '/domains/reg/apps';
  const port = REGISTRY.slice(REGISTRY.lastIndexOf(':') + 1);
  const publicImage = () => `${p.instance}/plain:1`;

  const deployArchive = async (
    app: string,
    text: string,
    dockerfile = ['ARG GEARSHIFT_CARTRIDGE_IMAGE', 'FROM ${GEARSHIFT_CARTRIDGE_IMAGE}', 'COPY app.js /opt/app/app.js', 'CMD ["node", "/opt/app/app.js"]'],
  ) => {
    const dir = mkdtempSync(join(tmpdir(), 'gearshift-registry-'));
    writeFileSync(join(dir, 'Dockerfile'), [...dockerfile, ''].join('\n'));
    writeFileSync(join(dir, 'app.js'), `require('http').createServer((q, s) => s.end(${JSON.stringify(text)})).listen(8080);\n`);
    const archive = execFileSync('tar', ['-cz', '-C', dir, '.']);
    rmSync(dir, { recursive: true, force: true });
    const res = await fetch(`${p.baseUrl}/api/v1${apps}/${app}/deployments?wait=300`, {
      method: 'POST',
      headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/gzip' },
      body: archive,
    });
    return (await res.json()) as { operation: { state: string; error: string } };
  };
  const apply = async (domain: string, yaml: string, token: string, query = '') => {
    const res = await fetch(`${p.baseUrl}/api/v1/domains/${domain}/apply${query}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/yaml' },
      body: yaml,
    });
    return {
      status: res.status,
      body: (await res.json()) as { details: { rule: string; pointer: string }[]; operation: { state: string; error: string } },
    };
  };
  const dockerImageYaml = (name: string, image: string) =>
    [`name: ${name}`, 'cartridges:', '  - name: docker-image', `    image: "${image}"`, '    port: 8080', ''].join('\n');

  before(async () => {
    assert.ok(REGISTRY_AUTH, `the registry at ${REGISTRY} has no password: scripts/host.sh (ensure_registry) makes one`);
    p = await Platform.start('registryauth');
    assert.equal((await p.api('POST', '/domains', { name: 'reg' })).status, 201);
    assert.equal((await p.api('POST', '/users', { username: 'bob', password: 'bob has a long password' })).status, 201);
    bob = (await p.api('POST', '/auth/login', { username: 'bob', password: 'bob has a long password' }, null)).body.token;
    assert.equal((await p.api('POST', '/domains', { name: 'bobs' }, bob)).status, 201);
    // A public image, already on the node (no public registry is reachable here).
    const source = `gearshift/nodejs-18:${hashFolder(join(ROOT, 'cartridges/nodejs-18'))}`;
    await docker.getImage(source).tag({ repo: `${p.instance}/plain`, tag: '1' });
  });
  after(async () => {
    await docker
      .getImage(publicImage())
      .remove({ force: true })
      .catch(() => undefined);
    await p?.stop();
  });

  it('answers 401 to a caller without the password', async () => {
    const anonymous = await fetch(`http://${REGISTRY}/v2/_catalog`);
    assert.equal(anonymous.status, 401);
    const wrong = await fetch(`http://${REGISTRY}/v2/_catalog`, { headers: { authorization: `Basic ${Buffer.from('gearshift:guess').toString('base64')}` } });
    assert.equal(wrong.status, 401);
    assert.equal((await fetch(`http://${REGISTRY}/v2/_catalog`, { headers: registryHeaders() })).status, 200);
  });

  it("pushes a deployment with the credentials, under a name that holds the app's whole id", async () => {
    const created = await p.api('POST', `${apps}?wait=180`, { name: 'alpha', cartridges: ['nodejs-18'] });
    assert.equal(created.body.operation.state, 'succeeded', created.body.operation.error);
    const deployed = await deployArchive('alpha', 'alpha release');
    assert.equal(deployed.operation.state, 'succeeded', deployed.operation.error);
    const pg = new Client({ connectionString: p.databaseUrl });
    await pg.connect();
    alphaId = (await pg.query<{ id: string }>("select id from apps where name = 'alpha'")).rows[0].id;
    await pg.end();
    const [latest] = (await p.api('GET', `${apps}/alpha/deployments`)).body as { image: string }[];
    release = `${REGISTRY}/gearshift-apps/${p.instance}-${alphaId}:1`;
    assert.equal(latest.image, release);
    const tags = await fetch(`http://${REGISTRY}/v2/gearshift-apps/${p.instance}-${alphaId}/tags/list`, { headers: registryHeaders() });
    assert.equal(tags.status, 200);
    assert.deepEqual(((await tags.json()) as { tags: string[] }).tags, ['1'], 'the release is in the registry');
  });

  it("refuses another app's release in every spelling of the registry, and makes nothing", async () => {
    const repo = `gearshift-apps/${p.instance}-${alphaId}:1`;
    for (const host of [REGISTRY, `127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `127.1:${port}`, `[::1]:${port}`]) {
      const image = `${host}/${repo}`;
      const created = await p.api('POST', '/domains/bobs/apps', { name: 'beta', cartridges: [{ name: 'docker-image', image, port: 8080 }] }, bob);
      assert.equal(created.status, 422, `${image}: ${JSON.stringify(created.body)}`);
      assert.equal(created.body.details[0].rule, 'image_source');
      assert.equal(created.body.details[0].pointer, '/cartridges/0/image');
      const applied = await apply('bobs', dockerImageYaml('beta', image), bob);
      assert.equal(applied.status, 422, `${image}: ${JSON.stringify(applied.body)}`);
      assert.equal(applied.body.details[0].rule, 'image_source');
    }
    // Not even an administrator's other app may run it.
    const admins = await p.api('POST', apps, { name: 'gamma', cartridges: [{ name: 'docker-image', image: release, port: 8080 }] });
    assert.equal(admins.status, 422);
    assert.deepEqual((await p.api('GET', '/domains/bobs/apps', undefined, bob)).body, [], 'no app was made');
    assert.deepEqual(
      ((await p.api('GET', apps)).body as { name: string }[]).map((a) => a.name),
      ['alpha'],
    );
    assert.equal((await p.containers({ 'gearshift.app-name': 'beta' })).length, 0);
  });

  it('lets an app name its own release, and a node pulls releases with the credentials it was given when it joined', async () => {
    // An existing app keeps its web cartridge, so the plan refuses the swap; the image itself passes.
    const own = await apply('reg', dockerImageYaml('alpha', release.replace(REGISTRY, `localhost:${port}`)), p.token, '?dryRun=true');
    assert.equal(own.status, 422, JSON.stringify(own.body));
    assert.deepEqual(
      own.body.details.map((d: { rule: string }) => d.rule),
      ['web-cartridge'],
    );
    // The node that built the release no longer has it: a second web gear makes it pull it from the registry.
    await docker
      .getImage(release)
      .remove({ force: true })
      .catch(() => undefined);
    const scaled = await p.api('PUT', `${apps}/alpha/scale?wait=180`, { replicas: 2 });
    assert.equal(scaled.status, 202, JSON.stringify(scaled.body));
    assert.equal(scaled.body.operation.state, 'succeeded', scaled.body.operation.error);
    assert.ok(await docker.getImage(release).inspect(), 'pulled again');
    const gears = scaled.body.gears.filter((g: { cartridge: string }) => g.cartridge === 'nodejs-18');
    assert.equal(gears.length, 2);
    for (const gear of gears) assert.equal(await (await fetch(gear.endpoints.http)).text(), 'alpha release');
  });

  it('lets an administrator alone give an app more than the restricted default, and the gear gets it', async () => {
    const own = await p.api(
      'POST',
      '/domains/bobs/apps?wait=180',
      { name: 'mine', cartridges: [{ name: 'docker-image', image: publicImage(), port: 3000, env: { PORT: '3000' } }] },
      bob,
    );
    assert.equal(own.status, 202, JSON.stringify(own.body));
    assert.equal(own.body.operation.state, 'succeeded', own.body.operation.error);
    const inspect = async () => {
      const [c] = await p.containers({ 'gearshift.app-name': 'mine', 'gearshift.cartridge': 'docker-image' });
      return docker.getContainer(c.Id).inspect();
    };
    const before = await inspect();
    assert.deepEqual(before.HostConfig.CapDrop, ['ALL']);
    assert.ok(!(before.HostConfig.CapAdd ?? []).includes('NET_ADMIN'));
    assert.equal(before.HostConfig.ReadonlyRootfs, false);

    const refused = await p.api('PUT', '/domains/bobs/apps/mine/security', { capabilities: ['NET_ADMIN'] }, bob);
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.equal((await p.api('GET', '/domains/bobs/apps/mine', undefined, bob)).body.security, null);

    const bad = await p.api('PUT', '/domains/bobs/apps/mine/security', { capabilities: ['ALL'] });
    assert.equal(bad.status, 400);

    const allowed = await p.api('PUT', '/domains/bobs/apps/mine/security?wait=180', { capabilities: ['NET_ADMIN'], runAsRoot: true, readOnlyRootfs: true });
    assert.equal(allowed.status, 202, JSON.stringify(allowed.body));
    assert.equal(allowed.body.operation.state, 'succeeded', allowed.body.operation.error);
    assert.deepEqual(allowed.body.security, { capabilities: ['NET_ADMIN'], runAsRoot: true, readOnlyRootfs: true });
    assert.deepEqual((await p.api('GET', '/domains/bobs/apps/mine', undefined, bob)).body.security, allowed.body.security);
    const afterwards = await inspect();
    assert.notEqual(afterwards.Id, before.Id, 'the gear was replaced');
    assert.deepEqual(afterwards.HostConfig.CapDrop, ['ALL']);
    assert.deepEqual(afterwards.HostConfig.CapAdd, ['NET_ADMIN']);
    assert.equal(afterwards.Config.User, '0:0');
    assert.equal(afterwards.HostConfig.ReadonlyRootfs, true);
    assert.ok(afterwards.HostConfig.SecurityOpt?.includes('no-new-privileges:true'));

    const back = await p.api('PUT', '/domains/bobs/apps/mine/security?wait=180', {});
    assert.equal(back.body.operation.state, 'succeeded', back.body.operation.error);
    assert.equal(back.body.security, null);
    assert.ok(!((await inspect()).HostConfig.CapAdd ?? []).includes('NET_ADMIN'));
  });

  it("refuses another app's release named by its image id or an id prefix, dry runs too, and makes nothing", async () => {
    const id = (await docker.getImage(release).inspect()).Id.replace(/^sha256:/, '');
    for (const image of [id, `sha256:${id}`, id.slice(0, 12), id.slice(0, 5), id.slice(0, 1)]) {
      const created = await p.api('POST', '/domains/bobs/apps', { name: 'beta', cartridges: [{ name: 'docker-image', image, port: 8080 }] }, bob);
      assert.equal(created.status, 422, `${image}: ${JSON.stringify(created.body)}`);
      assert.equal(created.body.details[0].rule, 'image_source');
      assert.equal(created.body.details[0].pointer, '/cartridges/0/image');
      assert.match(created.body.details[0].message, /repository and tag/);
      for (const query of ['', '?dryRun=true']) {
        const applied = await apply('bobs', dockerImageYaml('beta', image), bob, query);
        assert.equal(applied.status, 422, `${image}${query}: ${JSON.stringify(applied.body)}`);
        assert.equal(applied.body.details[0].rule, 'image_source');
      }
    }
    assert.ok(!((await p.api('GET', '/domains/bobs/apps', undefined, bob)).body as { name: string }[]).some((a) => a.name === 'beta'), 'no app was made');
    assert.equal((await p.containers({ 'gearshift.app-name': 'beta' })).length, 0);
  });

  it('refuses the registry spelled with a zero-padded port, an address of this host, or a name that resolves to it', async () => {
    const repo = `gearshift-apps/${p.instance}-${alphaId}:1`;
    // The interfaces' addresses, and those of interfaces that are down (docker0 with no container on it), which
    // Node does not list but the kernel still delivers to this host.
    const addresses = [
      ...Object.values(networkInterfaces())
        .flatMap((list) => list ?? [])
        .filter((a) => a.family === 'IPv4' && !a.internal)
        .map((a) => a.address),
      ...(existsSync('/proc/net/fib_trie') ? kernelAddresses(readFileSync('/proc/net/fib_trie', 'utf8'), '') : []).filter((a) => !a.startsWith('127.')),
    ].filter((a, i, all) => all.indexOf(a) === i);
    const hosts = [`127.0.0.1:0${port}`, `localhost:0${port}`, ...addresses.map((a) => `${a}:${port}`)];
    // A name the host's resolver maps to loopback, where it has one.
    if (
      await lookup('localhost.localdomain').then(
        () => true,
        () => false,
      )
    )
      hosts.push(`localhost.localdomain:${port}`);
    for (const host of hosts) {
      const image = `${host}/${repo}`;
      const created = await p.api('POST', '/domains/bobs/apps', { name: 'beta', cartridges: [{ name: 'docker-image', image, port: 8080 }] }, bob);
      assert.equal(created.status, 422, `${image}: ${JSON.stringify(created.body)}`);
      assert.equal(created.body.details[0].rule, 'image_source');
      const applied = await apply('bobs', dockerImageYaml('beta', image), bob, '?dryRun=true');
      assert.equal(applied.status, 422, `${image}: ${JSON.stringify(applied.body)}`);
      assert.equal(applied.body.details[0].rule, 'image_source');
    }
    assert.ok(!((await p.api('GET', '/domains/bobs/apps', undefined, bob)).body as { name: string }[]).some((a) => a.name === 'beta'), 'no app was made');
  });

  it("refuses a Dockerfile that builds from another app's image by id, naming the line; named stages still build", async () => {
    const created = await p.api('POST', `${apps}?wait=180`, { name: 'delta', cartridges: ['nodejs-18'] });
    assert.equal(created.body.operation.state, 'succeeded', created.body.operation.error);
    const id = (await docker.getImage(release).inspect()).Id.replace(/^sha256:/, '');
    const from = await deployArchive('delta', 'delta', [`FROM ${id.slice(0, 5)}`, 'RUN find / -name app.js | xargs cat']);
    assert.equal(from.operation.state, 'failed');
    assert.match(from.operation.error, /Dockerfile line 1: FROM [0-9a-f]{5} .*image_source/);
    const copy = await deployArchive('delta', 'delta', [
      'ARG GEARSHIFT_CARTRIDGE_IMAGE',
      'FROM ${GEARSHIFT_CARTRIDGE_IMAGE}',
      `COPY --from=${id.slice(0, 12)} /opt/app /stolen`,
      'CMD ["node", "/stolen/app.js"]',
    ]);
    assert.equal(copy.operation.state, 'failed');
    assert.match(copy.operation.error, /Dockerfile line 3: COPY --from [0-9a-f]{12} .*image_source/);
    const mount = await deployArchive('delta', 'delta', [
      'ARG GEARSHIFT_CARTRIDGE_IMAGE',
      'FROM ${GEARSHIFT_CARTRIDGE_IMAGE}',
      `RUN --mount=type=bind,from=sha256:${id},target=/o cat /o/opt/app/app.js`,
    ]);
    assert.equal(mount.operation.state, 'failed');
    assert.match(mount.operation.error, /Dockerfile line 3: RUN --mount sha256:[0-9a-f]{64} .*image_source/);
    const registry = await deployArchive('delta', 'delta', [`FROM ${release}`]);
    assert.equal(registry.operation.state, 'failed');
    assert.match(registry.operation.error, /Dockerfile line 1: FROM .*platform's registry.*image_source/);

    const staged = await deployArchive('delta', 'delta staged', [
      'ARG GEARSHIFT_CARTRIDGE_IMAGE',
      'FROM ${GEARSHIFT_CARTRIDGE_IMAGE} AS base',
      'COPY app.js /opt/app/app.js',
      'FROM base AS final',
      'COPY --from=base /opt/app/app.js /opt/app/copied.js',
      'CMD ["node", "/opt/app/copied.js"]',
    ]);
    assert.equal(staged.operation.state, 'succeeded', staged.operation.error);
  });

  it("keeps the platform's logs from other users, and no password in them", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gearshift-logs-'));
    const supervisor = new Supervisor([{ name: 'talker', command: process.execPath, args: ['-e', 'console.log("hello"); setInterval(() => {}, 1000)'] }], {
      logDir: join(dir, 'logs'),
      runDir: join(dir, 'run'),
    });
    supervisor.start();
    try {
      await eventually(
        'the program to write its log',
        async () => existsSync(join(dir, 'logs/talker.log')) && readFileSync(join(dir, 'logs/talker.log'), 'utf8').includes('hello'),
        10_000,
        100,
      );
      assert.equal(statSync(join(dir, 'logs/talker.log')).mode & 0o007, 0, 'a log is not world-readable');
      assert.equal(statSync(join(dir, 'logs')).mode & 0o007, 0, 'nor is the folder of logs');
    } finally {
      await supervisor.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    // The registry's own logs, as scripts/host.sh starts it.
    const registryDir = join(process.env.GEARSHIFT_STATE_DIR || '/var/lib/gearshift', 'registry');
    const logs = readdirSync(registryDir).filter((f) => f.endsWith('.log'));
    assert.ok(logs.includes('registry.log'), `no registry.log in ${registryDir}`);
    for (const f of logs) {
      assert.equal(statSync(join(registryDir, f)).mode & 0o007, 0, `${f} is not world-readable`);
      assert.ok(!readFileSync(join(registryDir, f), 'utf8').includes(REGISTRY_AUTH!.password), `${f} holds no password`);
    }
    for (const proc of [p.broker!, ...p.agents.values()]) {
      const output = proc.output.join('\n');
      assert.ok(!output.includes(REGISTRY_AUTH!.password), 'the broker and the agents print no registry password');
    }
  });
});
