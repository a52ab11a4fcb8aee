import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, Platform, ROOT } from './support/platform';
import { freePort, NODE_FLAGS, Proc } from './support/processes';

/**
 * Lab nodes are hosts of their own (a container each with its own Docker Engine, on the lab network) that join the
 * broker over the network with scripts/join.sh, as a second machine would. The platform they join listens where they
 * reach it (GEARSHIFT_ADVERTISE_ADDRESS, the lab network's gateway): its API, a Redis of its own with a password
 * (each node gets its own Redis user) and a registry with a password. Nothing of the platform runs a node on this
 * host: every gear runs in a lab node, and every image a lab node has came from the registry or was built there.
 */
describe('lab nodes join over the network', { timeout: 1_200_000 }, () => {
  let p: Platform;
  let gateway = '';
  let redis: Proc | undefined;
  let registry: Proc | undefined;
  const work = mkdtempSync(join(tmpdir(), 'gearshift-lab-'));
  const redisPassword = randomBytes(18).toString('hex');
  const registryPassword = randomBytes(18).toString('hex');
  let redisPort = 0;
  let registryPort = 0;
  const pushedTags: string[] = [];
  const apps = '/domains/lab/apps';
  // A lab of this file's own (its network, containers gearshift-lab-<id>-<n>): test files run side by side.
  const labName = `gearshift-lab-${randomBytes(3).toString('hex')}`;

  /** `npm run lab -- ...`, as an operator runs it against this platform. */
  const lab = (...args: string[]) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [join(ROOT, 'dist/apps/lab/src/main.js'), ...args], {
        env: {
          ...process.env,
          GEARSHIFT_LAB: labName,
          GEARSHIFT_PORT: String(p?.port ?? 0),
          GEARSHIFT_TOKEN: p?.token ?? '',
          GEARSHIFT_INSTANCE: p?.instance ?? 'gearshift',
          REDIS_URL: `redis://127.0.0.1:${redisPort}`,
          GEARSHIFT_REGISTRY: `${gateway}:${registryPort}`,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      child.once('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`lab ${args.join(' ')} exited ${code}:\n${out}`))));
    });
  const inNode = (n: number, ...args: string[]) => execFileSync('docker', ['exec', `${labName}-${n}`, ...args], { encoding: 'utf8' });
  const nodeLogs = () =>
    [1, 2]
      .map((n) => {
        try {
          return `--- lab-${n}\n${inNode(n, 'tail', '-40', '/var/lib/gearshift/logs/agent.log')}`;
        } catch {
          return `--- lab-${n}: no log`;
        }
      })
      .join('\n');

  before(async () => {
    gateway = await lab('gateway');
    assert.match(gateway, /^\d+\.\d+\.\d+\.\d+$/);
    // Redis for this platform alone, on loopback and the lab network, with a password (config file: 0600).
    redisPort = await freePort();
    const conf = join(work, 'redis.conf');
    writeFileSync(
      conf,
      [`bind 127.0.0.1 ${gateway}`, `port ${redisPort}`, 'save ""', 'appendonly no', `dir ${work}`, `requirepass ${redisPassword}`, ''].join('\n'),
      { mode: 0o600 },
    );
    redis = new Proc(spawn('redis-server', [conf], { stdio: ['ignore', 'pipe', 'pipe'] }), 'redis');
    // A registry of its own with a password. It listens on every address: this host pushes the cartridge images
    // through loopback (which its Docker trusts without TLS), the lab nodes pull them at the gateway.
    registryPort = await freePort();
    const htpasswd = join(work, 'htpasswd');
    execFileSync('htpasswd', ['-iBc', htpasswd, 'gearshift'], { input: registryPassword, stdio: ['pipe', 'ignore', 'ignore'] });
    const registryConf = join(work, 'registry.yml');
    writeFileSync(
      registryConf,
      [
        'version: 0.1',
        'log: { level: warn }',
        `storage: { filesystem: { rootdirectory: ${join(work, 'registry')} }, delete: { enabled: true } }`,
        `auth: { htpasswd: { realm: gearshift, path: ${htpasswd} } }`,
        `http: { addr: "0.0.0.0:${registryPort}" }`,
        '',
      ].join('\n'),
    );
    registry = new Proc(spawn('docker-registry', ['serve', registryConf], { stdio: ['ignore', 'pipe', 'pipe'] }), 'registry');
    await eventually(
      'the registry to answer',
      async () => (await fetch(`http://${gateway}:${registryPort}/v2/`).catch(() => null))?.status === 401,
      20_000,
      100,
    );

    p = await Platform.start(
      'lab',
      {},
      {
        router: true,
        env: {
          REDIS_URL: `redis://:${redisPassword}@127.0.0.1:${redisPort}`,
          GEARSHIFT_ADVERTISE_ADDRESS: gateway,
          GEARSHIFT_REGISTRY: `${gateway}:${registryPort}`,
          GEARSHIFT_REGISTRY_USER: 'gearshift',
          GEARSHIFT_REGISTRY_PASSWORD: registryPassword,
        },
      },
    );
    assert.equal((await p.api('POST', '/domains', { name: 'lab' })).status, 201);

    // The static cartridge's image goes to the registry; no lab node builds it.
    const pushed = execFileSync(process.execPath, [...NODE_FLAGS, join(ROOT, 'dist/apps/node-agent/src/prepare-images.js'), '--push', 'static'], {
      env: {
        ...process.env,
        GEARSHIFT_REGISTRY: `127.0.0.1:${registryPort}`,
        GEARSHIFT_REGISTRY_USER: 'gearshift',
        GEARSHIFT_REGISTRY_PASSWORD: registryPassword,
      },
      encoding: 'utf8',
    });
    const tag = /pushed as (\S+)/.exec(pushed)?.[1];
    assert.ok(tag, pushed);
    pushedTags.push(tag);
  });

  after(async () => {
    await lab('down').catch((err: Error) => console.error(err.message));
    await p?.stop();
    await redis?.kill();
    await registry?.kill();
    for (const tag of pushedTags) execFileSync('docker', ['rmi', tag], { stdio: 'ignore' });
    rmSync(work, { recursive: true, force: true });
  });

  it('starts two node hosts that join with a join token and report, each at its own address', async () => {
    const out = await lab('up', '2');
    assert.match(out, /2 lab node\(s\) up: lab-1, lab-2/);
    const nodes = (await p.api('GET', '/nodes')).body as { id: string; name: string; ready: boolean; address: string }[];
    const joined = nodes.filter((n) => n.name.startsWith('lab-')).sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(
      joined.map((n) => [n.name, n.ready]),
      [
        ['lab-1', true],
        ['lab-2', true],
      ],
    );
    for (const [i, n] of joined.entries()) {
      const own = execFileSync('docker', ['inspect', `${labName}-${i + 1}`, '-f', `{{(index .NetworkSettings.Networks "${labName}").IPAddress}}`], {
        encoding: 'utf8',
      }).trim();
      assert.equal(n.address, own, `${n.name} publishes gear ports on its own address`);
    }
    // Up again with both serving: nothing is made again, and no token is spent.
    const tokens = ((await p.api('GET', '/nodes/tokens')).body as unknown[]).length;
    assert.match(await lab('up', '2'), /2 lab node\(s\) up/);
    const again = ((await p.api('GET', '/nodes')).body as { id: string; name: string }[]).filter((n) => n.name.startsWith('lab-'));
    assert.deepEqual(again.map((n) => n.id).sort(), joined.map((n) => n.id).sort());
    assert.equal(((await p.api('GET', '/nodes/tokens')).body as unknown[]).length, tokens);
    // Each has an engine of its own, which trusts the registry at the gateway and nothing else was loaded into.
    assert.match(inNode(1, 'docker', 'info', '--format', '{{json .RegistryConfig.IndexConfigs}}'), new RegExp(`${gateway}:${registryPort}`));
    // Its Redis user is its own: the platform's password is nowhere on the node.
    assert.ok(!inNode(1, 'cat', '/etc/gearshift/agent.env').includes(redisPassword));
  });

  it('spreads two web replicas over the two nodes, answering through the router on this host', async () => {
    const created = await p.api('POST', `${apps}?wait=600`, { name: 'site', cartridges: ['static'], scale: 2 });
    assert.equal(created.body.operation?.state, 'succeeded', `${JSON.stringify(created.body.operation ?? created.body)}\n${nodeLogs()}`);
    const nodes = (created.body.gears as { node: string }[]).map((g) => g.node).sort();
    assert.deepEqual(nodes, ['lab-1', 'lab-2']);
    // Neither node built the cartridge image: both pulled it from the registry.
    for (const n of [1, 2]) assert.match(inNode(n, 'docker', 'images', '--format', '{{.Repository}}:{{.Tag}}'), /gearshift-cartridges\/static:/);
    await eventually('the router to serve the app', async () => (await p.viaRouter('site-lab.localhost')).status === 200, 60_000, 250).catch(
      async (err: Error) => {
        throw new Error(`${err.message}\n${await p.routingState(`${apps}/site`)}`);
      },
    );
  });

  it('runs a release built on one node on the other too, pulled from the registry', async () => {
    const dir = mkdtempSync(join(work, 'src-'));
    writeFileSync(join(dir, 'index.html'), 'built in the lab\n');
    const archive = execFileSync('tar', ['-cz', '-C', dir, '.']);
    const res = await fetch(`${p.baseUrl}/api/v1${apps}/site/deployments?wait=600`, {
      method: 'POST',
      headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/gzip' },
      body: archive,
    });
    const body = (await res.json()) as { operation: { state: string; error?: string } };
    assert.equal(body.operation.state, 'succeeded', `${JSON.stringify(body)}\n${nodeLogs()}`);
    const [release] = (await p.api('GET', `${apps}/site/deployments`)).body as { image: string }[];
    assert.ok(release.image.startsWith(`${gateway}:${registryPort}/gearshift-apps/`), release.image);
    for (const n of [1, 2]) {
      assert.ok(inNode(n, 'docker', 'images', '--format', '{{.Repository}}:{{.Tag}}').split('\n').includes(release.image), `lab-${n} has ${release.image}`);
    }
    // Both gears serve the release: every answer through the router is the new page.
    const answers = new Set<string>();
    for (let i = 0; i < 20; i++) answers.add((await p.viaRouter('site-lab.localhost', '/')).body.trim());
    assert.deepEqual([...answers], ['built in the lab']);
  });

  it('lab down removes the node hosts, their volumes, the network and the nodes', async () => {
    assert.equal((await p.api('DELETE', `${apps}/site?wait=300`)).status < 300, true);
    await eventually('the app to be gone', async () => (await p.api('GET', `${apps}/site`)).status === 404, 120_000, 500);
    await lab('down');
    const left = (args: string[]) => execFileSync('docker', args, { encoding: 'utf8' }).trim();
    assert.equal(left(['ps', '-aq', '--filter', `label=gearshift.lab=${labName}`]), '');
    assert.equal(left(['volume', 'ls', '-q', '--filter', `label=gearshift.lab=${labName}`]), '');
    assert.equal(left(['network', 'ls', '-q', '--filter', `name=^${labName}$`]), '');
    const nodes = (await p.api('GET', '/nodes')).body as { name: string }[];
    assert.deepEqual(
      nodes.filter((n) => n.name.startsWith('lab-')),
      [],
    );
  });
});
