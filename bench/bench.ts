import { readFileSync } from 'node:fs';
import { Queue, QueueEvents, Worker, type ConnectionOptions } from 'bullmq';
import IORedis from 'ioredis';
import { hashFolder, loadCatalog, nodeQueue, stamp } from '@gearshift/cartridges';
import { DockerAdapter } from '../apps/node-agent/src/docker.adapter';
import { ImageBuilder } from '../apps/node-agent/src/images';
import { deployPushBench, writeRawNodeApp } from './deploy-push';
import { servicesBench } from './services';
import { failoverBench } from './failover';
import { scaleBench } from './scale';
import { nodeLossBench } from './node-loss';
import { docker, eventually, Platform, ROOT } from '../test/support/platform';
import { recoveryBench } from './recovery';
import { restartBench } from './restart';
import { backupBench } from './platform-backup';
import { upgradeBench } from './upgrade';
import { dbUpgradeBench } from './db-upgrade';
import { routingBench } from './routing';
import { soakBench } from './soak';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * `npm run bench` (BENCH_ONLY=deploy, =push, =services, =routing, =memory, =recovery, =restart, =upgrade, =backup, =failover, =node-loss, =scale, =soak, =runtimes or =db-upgrade for those rows alone): what the platform costs over the raw floor, measured in the same run on the same machine.
 *   gear start  app create → healthy through the API   vs  raw dockerode create + start + the same health wait
 *   queue       a no-op job through a node's queue       vs  a raw BullMQ round trip on the same Redis
 *   routing     wrk through the router      vs  wrk straight to the container's own address (and its published port)
 *   wake        the first request to an idle app, answered
 *   services    git push → all four services of an app serving, code-only  vs  the same for an app of one service
 *   memory      broker and agent resident memory, idle and with 100 apps
 *   recovery    kill -9 of the broker, agent and router under the supervisor, until each is healthy again
 *   restart     npm run down + npm run up -- --detach under traffic: failed requests and the longest gap
 *   upgrade     npm run up of this checkout over the previous commit's platform under traffic: the same
 *   backup      npm run backup and restore of a platform with 100 apps: time and archive size
 *   failover    kill -9 of the leading broker of two: the other answers, leads, and creates an app
 *   node-loss   docker kill of one of three lab nodes under 50 req/s: replica serving elsewhere, failed requests
 *   scale       100 simulated nodes (the agent on an in-memory Docker), 10,000 gears: heartbeat CPU, API p99,
 *               placements per second, broker memory and its slope per 1,000 gears
 *   soak        mixed and hostile API traffic from 8 clients: broker memory, p99 latency, 5xx, crashes
 *   runtimes    cold build time and image size of each new cartridge beside the old one's
 *   db-upgrade  postgresql-15 → 17 with 10,000 rows through the API   vs  a plain pg_dump and psql of the same rows
 */

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const ROUNDS = Number(process.env.BENCH_ROUNDS || 7);
const APPS = Number(process.env.BENCH_APPS || 100);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))];
const rssMb = (pid: number) => Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024);

async function waitHttp(url: string): Promise<void> {
  for (;;) {
    const ok = await fetch(url, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The floor: what a gear start costs with dockerode alone (same image, limits, port publishing, health wait). */
async function rawGearStart(image: string, ownNetwork = false): Promise<number> {
  const t0 = performance.now();
  const network = ownNetwork ? await docker.createNetwork({ Name: `bench-raw-${process.pid}-${Date.now()}`, Driver: 'bridge' }) : null;
  const c = await docker.createContainer({
    Image: image,
    Env: ['PORT=8080'],
    ExposedPorts: { '8080/tcp': {} },
    Labels: { 'gearshift.bench': 'raw' },
    HostConfig: {
      PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
      Memory: 256 * 1024 * 1024,
      NanoCpus: 0.5e9,
      ...(network ? { NetworkMode: network.id } : {}),
    },
  });
  await c.start();
  const info = await c.inspect();
  const port = info.NetworkSettings.Ports['8080/tcp']![0].HostPort;
  await waitHttp(`http://127.0.0.1:${port}/health`);
  const ms = performance.now() - t0;
  await c.remove({ force: true });
  await network?.remove();
  return ms;
}

async function rawQueueRoundTrips(n: number): Promise<number[]> {
  const connection = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
  const prefix = `bench-raw-${process.pid}`;
  const queue = new Queue('raw', { connection: connection as unknown as ConnectionOptions, prefix });
  const events = new QueueEvents('raw', { connection: connection.duplicate() as unknown as ConnectionOptions, prefix });
  const worker = new Worker('raw', async (job) => job.data, { connection: connection.duplicate() as unknown as ConnectionOptions, prefix });
  await events.waitUntilReady();
  await worker.waitUntilReady();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const job = await queue.add('noop', { i }, { removeOnComplete: { count: 1000 } });
    await job.waitUntilFinished(events);
    times.push(performance.now() - t0);
  }
  await worker.close();
  await events.close();
  await queue.obliterate({ force: true });
  await queue.close();
  connection.disconnect();
  return times;
}

async function platformQueueRoundTrips(p: Platform, nodeId: string, n: number): Promise<number[]> {
  const connection = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(nodeQueue(nodeId), { connection: connection as unknown as ConnectionOptions, prefix: p.instance });
  const events = new QueueEvents(nodeQueue(nodeId), { connection: connection.duplicate() as unknown as ConnectionOptions, prefix: p.instance });
  await events.waitUntilReady();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const job = await queue.add('node.ping', stamp({ sentAt: Date.now() }), { removeOnComplete: { count: 1000 } });
    await job.waitUntilFinished(events);
    times.push(performance.now() - t0);
  }
  await events.close();
  await queue.close();
  connection.disconnect();
  return times;
}

const SERVER = (version: string) =>
  `require('http').createServer((q, s) => s.end(q.url === '/health' ? 'ok' : '${version} ' + require('left-pad')('x', 3))).listen(process.env.PORT || 8080);\n`;

/** git push → serving, versus docker build + run of the same app with a hand-written Dockerfile. */
type AddRow = (what: string, platform: string, floor: string, ratio: string, goal: string) => void;

async function deployBench(p: Platform, nodeImage: string, rawStarts: number[], add: AddRow): Promise<void> {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const run = promisify(execFile);
  const id = Date.now().toString(36);
  const pkg = JSON.stringify({ name: `bench-${id}`, version: '1.0.0', main: 'server.js', dependencies: { 'left-pad': '1.3.0' } });
  const git = (dir: string, ...args: string[]) => run('git', ['-C', dir, '-c', 'user.email=b@b', '-c', 'user.name=b', ...args]);

  // The raw floor: a Dockerfile a developer would write, built and run by hand.
  const rawDir = mkdtempSync(join(tmpdir(), 'bench-raw-app-'));
  writeFileSync(join(rawDir, 'package.json'), pkg);
  writeRawNodeApp(rawDir, nodeImage, { dependencies: 'package.json', install: 'npm install', source: '.', command: ['node', 'server.js'] });
  const adapter = new DockerAdapter();
  const rawDeploy = async (version: string) => {
    writeFileSync(join(rawDir, 'server.js'), SERVER(version));
    const t0 = performance.now();
    const tag = `gearshift-bench/raw-app:${version}`;
    await adapter.buildImage({ contextDir: rawDir, tag, buildArgs: {}, labels: { 'gearshift.bench': 'raw' } });
    const buildMs = performance.now() - t0;
    const startMs = await rawGearStart(tag);
    return { total: buildMs + startMs, tag };
  };

  // Gearshift: a real git push of the same app.
  await p.api('POST', '/domains/bench/apps?wait=120', { name: 'pushed', cartridges: ['nodejs-18'] });
  const repo = mkdtempSync(join(tmpdir(), 'bench-push-'));
  await git(repo, 'init', '-q', '-b', 'main');
  writeFileSync(join(repo, 'package.json'), pkg);
  /** From `git push` to the router answering with the new code; and to the push returning (old gears retired). */
  const push = async (version: string) => {
    writeFileSync(join(repo, 'server.js'), SERVER(version));
    await git(repo, 'add', '-A');
    await git(repo, 'commit', '-qm', version);
    const t0 = performance.now();
    const pushing = git(repo, 'push', '-q', `http://bench:${p.token}@127.0.0.1:${p.port}/git/bench/pushed.git`, 'main');
    await eventually(`${version} to be served`, async () => (await p.viaRouter('pushed-bench.localhost')).body.startsWith(version), 60_000, 20);
    const served = performance.now() - t0;
    await pushing;
    return { served, done: performance.now() - t0 };
  };
  try {
    const rawFirst = await rawDeploy('first');
    const first = await push('first');
    add(
      'git push → serving, first push (npm install)',
      `${(first.served / 1000).toFixed(2)} s`,
      `${(rawFirst.total / 1000).toFixed(2)} s docker build + run`,
      (first.served / rawFirst.total).toFixed(2),
      '',
    );
    const codeRaw: number[] = [];
    const codePush: { served: number; done: number }[] = [];
    for (let i = 0; i < 3; i++) {
      codeRaw.push((await rawDeploy(`code${i}`)).total);
      codePush.push(await push(`code${i}`));
    }
    const served = median(codePush.map((x) => x.served));
    add(
      'git push → serving, code-only change (median of 3)',
      `${(served / 1000).toFixed(2)} s`,
      `${(median(codeRaw) / 1000).toFixed(2)} s docker build + run`,
      (served / median(codeRaw)).toFixed(2),
      '',
    );
    add('  same, until the push returns (old gear drained, 2 s)', `${(median(codePush.map((x) => x.done)) / 1000).toFixed(2)} s`, '', '', '');
    add('  the raw run alone (gear start floor)', '', `${median(rawStarts).toFixed(0)} ms`, '', '');
  } finally {
    rmSync(rawDir, { recursive: true, force: true });
    rmSync(repo, { recursive: true, force: true });
    for (const img of await docker.listImages({ filters: JSON.stringify({ label: ['gearshift.bench=raw'] }) }))
      await docker
        .getImage(img.Id)
        .remove({ force: true })
        .catch(() => undefined);
    await p.api('DELETE', '/domains/bench/apps/pushed?wait=60');
  }
}

/** Resident memory idle and with APPS apps running, and how long creating them took. */
async function memoryBench(p: Platform, idle: { broker: number; agent: number; router: number }, add: AddRow): Promise<void> {
  const t0 = performance.now();
  const queue = Array.from({ length: APPS }, (_, i) => `many${i}`);
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let name = queue.shift(); name; name = queue.shift()) {
        const res = await p.api('POST', '/domains/bench/apps?wait=120', { name, cartridges: ['static'] });
        if (res.body.operation?.state !== 'succeeded') throw new Error(`app ${name} failed: ${JSON.stringify(res.body.operation ?? res.body)}`);
      }
    }),
  );
  const createAllS = (performance.now() - t0) / 1000;
  await eventually('heartbeats to cover every app', async () => (await p.containers()).length >= APPS, 60_000);
  await new Promise((r) => setTimeout(r, 15000));
  const loaded = { broker: rssMb(p.broker!.child.pid!), agent: rssMb(p.agents.get('node1')!.child.pid!) };
  add(
    'broker + agent resident memory, idle (15 s after start)',
    `${idle.broker + idle.agent} MB`,
    `broker ${idle.broker} + agent ${idle.agent}`,
    '',
    '< 200 MB',
  );
  add('router process resident memory, idle (HAProxy apart)', `${idle.router} MB`, '', '', '');
  add(
    `broker + agent resident memory, ${APPS} apps running (15 s later)`,
    `${loaded.broker + loaded.agent} MB`,
    `broker ${loaded.broker} + agent ${loaded.agent}`,
    '',
    '< 200 MB',
  );
  add(`${APPS} static apps created, 4 at a time`, `${createAllS.toFixed(1)} s`, `${((createAllS * 1000) / APPS).toFixed(0)} ms per app`, '', '');
}

/** Each current cartridge (Debian 13) beside the one it follows (Debian 12): the new replaces the old in the row. */
const RUNTIME_PAIRS: [string, string][] = [
  ['nodejs-18', 'nodejs-22'],
  ['nodejs-18', 'nodejs-24'],
  ['python-3.11', 'python-3.13'],
  ['postgresql-15', 'postgresql-17'],
  ['redis-7', 'valkey-8'],
  ['php-8.2', 'php-8.4'],
  ['mariadb-10.11', 'mariadb-11.8'],
  ['ruby-3.1', 'ruby-3.3'],
  ['openjdk-17', 'openjdk-21'],
];

/**
 * `BENCH_ONLY=runtimes`: the cold build time (no layer cache, one build at a time, so that they do not share the
 * cores) and the image size of each new cartridge beside the old one's. A new node pays the build once per cartridge.
 */
async function runtimesBench(add: (what: string, platform: string, floor: string, ratio: string, goal: string) => void): Promise<void> {
  const builder = new ImageBuilder(
    { cartridgesDir: join(ROOT, 'cartridges'), baseImage: 'gearshift/base:bookworm', trixieBaseImage: 'gearshift/base:trixie', imageRepository: 'gearshift' },
    new DockerAdapter(),
  );
  // BENCH_RUNTIMES=nodejs-24,valkey-8: only those rows (each pair builds two images from nothing).
  const only = (process.env.BENCH_RUNTIMES ?? '').split(',').filter(Boolean);
  const measured = new Map<string, { s: number; mb: number }>();
  const measure = async (name: string) => {
    const known = measured.get(name);
    if (known) return known;
    const tag = `gearshift-bench/${name}:cold`;
    const t0 = performance.now();
    await builder.buildCold(name, tag);
    const s = (performance.now() - t0) / 1000;
    const mb = (await docker.getImage(tag).inspect()).Size / 1e6;
    await docker
      .getImage(tag)
      .remove()
      .catch(() => undefined);
    measured.set(name, { s, mb });
    return measured.get(name)!;
  };
  for (const [old, current] of RUNTIME_PAIRS.filter(([, c]) => only.length === 0 || only.includes(c))) {
    const o = await measure(old);
    const n = await measure(current);
    add(`cold build: ${current} (trixie) vs ${old} (bookworm)`, `${n.s.toFixed(1)} s`, `${o.s.toFixed(1)} s`, (n.s / o.s).toFixed(2), '');
    add(`image size: ${current} vs ${old}`, `${n.mb.toFixed(0)} MB`, `${o.mb.toFixed(0)} MB`, (n.mb / o.mb).toFixed(2), '');
  }
}

async function main(): Promise<void> {
  const rows: string[][] = [];
  const add = (what: string, platform: string, floor: string, ratio: string, goal: string) => rows.push([what, platform, floor, ratio, goal]);
  // Its own platform, brought up by the real scripts: the bench platform below is not needed.
  if (process.env.BENCH_ONLY === 'restart') return void (await restartBench(add), printTable(rows));
  if (process.env.BENCH_ONLY === 'upgrade') return void (await upgradeBench(add), printTable(rows));
  if (process.env.BENCH_ONLY === 'backup') return void (await backupBench(add), printTable(rows));
  // Images alone: no platform.
  if (process.env.BENCH_ONLY === 'runtimes') return void (await runtimesBench(add), printTable(rows));
  if (process.env.BENCH_ONLY === 'failover') return void (await failoverBench(add), printTable(rows));
  if (process.env.BENCH_ONLY === 'db-upgrade') return void (await dbUpgradeBench(add), printTable(rows));
  // Simulated nodes on its own broker.
  if (process.env.BENCH_ONLY === 'scale') return void (await scaleBench(add), printTable(rows));
  // Lab nodes of its own: hosts with their own engines.
  if (process.env.BENCH_ONLY === 'node-loss') return void (await nodeLossBench(add), printTable(rows));
  const p = await Platform.start(
    'bench',
    { node1: { memoryMb: 64 * 1024, maxGears: 1000 } },
    { router: true, env: { GEARSHIFT_AUTOSCALE_INTERVAL_MS: '250' } },
  );
  try {
    const brokerPid = p.broker!.child.pid!;
    const agentPid = p.agents.get('node1')!.child.pid!;
    // Idle: settled after start (start-up garbage collected), a few heartbeats in.
    await new Promise((r) => setTimeout(r, 15000));
    const idle = { broker: rssMb(brokerPid), agent: rssMb(agentPid), router: rssMb(p.router!.child.pid!) };

    const nodeImage = `gearshift/nodejs-18:${hashFolder(join(ROOT, 'cartridges/nodejs-18'))}`;
    await p.api('POST', '/domains', { name: 'bench' });
    if (process.env.BENCH_ONLY === 'recovery') {
      await recoveryBench(add);
      printTable(rows);
      return;
    }
    if (process.env.BENCH_ONLY === 'soak') return void (await soakBench(p, add), printTable(rows));
    if (process.env.BENCH_ONLY === 'memory') {
      await memoryBench(p, idle, add);
      printTable(rows);
      return;
    }
    if (process.env.BENCH_ONLY === 'push') return void (await deployPushBench(p, nodeImage, add), printTable(rows));
    if (process.env.BENCH_ONLY === 'services') return void (await servicesBench(p, add), printTable(rows));
    if (process.env.BENCH_ONLY === 'deploy' || process.env.BENCH_ONLY === 'routing') {
      const floor = [await rawGearStart(nodeImage), await rawGearStart(nodeImage), await rawGearStart(nodeImage)];
      if (process.env.BENCH_ONLY === 'deploy') await deployBench(p, nodeImage, floor, add);
      else await routingBench(p, median(floor), add);
      printTable(rows);
      return;
    }

    // Warm both paths once, so that neither pays a first-time cost the other does not.
    await rawGearStart(nodeImage);
    const warm = await p.api('POST', '/domains/bench/apps?wait=120', { name: 'warm', cartridges: ['nodejs-18'] });
    if (warm.body.operation?.state !== 'succeeded') throw new Error(`warm-up app failed: ${JSON.stringify(warm.body)}`);
    await p.api('DELETE', '/domains/bench/apps/warm?wait=60');

    const raw: number[] = [];
    const rawNet: number[] = [];
    const platform: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      raw.push(await rawGearStart(nodeImage));
      rawNet.push(await rawGearStart(nodeImage, true));
      const t0 = performance.now();
      const res = await p.api('POST', '/domains/bench/apps?wait=120', { name: `start${i}`, cartridges: ['nodejs-18'] });
      platform.push(performance.now() - t0);
      if (res.body.operation?.state !== 'succeeded') throw new Error(`app start${i} failed: ${JSON.stringify(res.body.operation)}`);
      await p.api('DELETE', `/domains/bench/apps/start${i}?wait=60`);
    }
    const gearRatio = median(platform) / median(raw);
    add(
      `gear start: app create → healthy (median of ${ROUNDS})`,
      `${median(platform).toFixed(0)} ms`,
      `${median(raw).toFixed(0)} ms`,
      gearRatio.toFixed(2),
      '≤ 1.20',
    );
    add(
      '  same, floor with its own network as each app has',
      `${median(platform).toFixed(0)} ms`,
      `${median(rawNet).toFixed(0)} ms`,
      (median(platform) / median(rawNet)).toFixed(2),
      '',
    );

    await routingBench(p, median(raw), add);

    // Cartridge images: every buildable cartridge from nothing (no layer cache), in parallel as a new node would,
    // then the check a node makes when they are there.
    const catalog = loadCatalog(join(ROOT, 'cartridges'));
    const builder = new ImageBuilder(
      { cartridgesDir: join(ROOT, 'cartridges'), baseImage: 'gearshift/base:bookworm', trixieBaseImage: 'gearshift/base:trixie', imageRepository: 'gearshift' },
      new DockerAdapter(),
    );
    const buildable = [...catalog.values()].filter((c) => c.manifest.image.build);
    const c0 = performance.now();
    await Promise.all(buildable.map((c) => builder.buildCold(c.manifest.name, `gearshift-bench/${c.manifest.name}:cold`)));
    const coldS = (performance.now() - c0) / 1000;
    for (const c of buildable)
      await docker
        .getImage(`gearshift-bench/${c.manifest.name}:cold`)
        .remove()
        .catch(() => undefined);
    const warm0 = performance.now();
    const rebuilt = await Promise.all(buildable.map((c) => builder.ensure({ build: { cartridge: c.manifest.name, hash: c.hash } }, async () => undefined)));
    const warmMs = performance.now() - warm0;
    add(`build ${buildable.length} cartridge images, cold (no layer cache), in parallel`, `${coldS.toFixed(1)} s`, '', '', '');
    add(`same, warm (images present${rebuilt.some(Boolean) ? ', some rebuilt' : ''})`, `${warmMs.toFixed(0)} ms`, '', '', '≈ 0');

    // Create → healthy for each cartridge: web runtimes alone, services beside the static site.
    for (const c of [...catalog.values()].filter((x) => x.manifest.image.build)) {
      const isWeb = c.manifest.categories.includes('web');
      const cartridges = isWeb ? [c.manifest.name] : ['static', c.manifest.name];
      const name = `c${c.manifest.name.replace(/[^a-z0-9]/g, '')}`.slice(0, 32);
      const t0 = performance.now();
      const res = await p.api('POST', '/domains/bench/apps?wait=300', { name, cartridges });
      const ms = performance.now() - t0;
      if (res.body.operation?.state !== 'succeeded') throw new Error(`${c.manifest.name} failed: ${JSON.stringify(res.body.operation ?? res.body)}`);
      add(`create → healthy: ${cartridges.join(' + ')}`, `${ms.toFixed(0)} ms`, '', '', '');
      await p.api('DELETE', `/domains/bench/apps/${name}?wait=60`);
    }

    // Deploying code: git push to serving, first (dependencies installed) and code-only, against a raw docker build
    // and run of the equivalent Dockerfile.
    await deployBench(p, nodeImage, raw, add);
    await deployPushBench(p, nodeImage, add);
    await servicesBench(p, add);

    const nodes = await p.api('GET', '/nodes');
    const nodeId = nodes.body[0].id as string;
    const rawQ = await rawQueueRoundTrips(300);
    const platQ = await platformQueueRoundTrips(p, nodeId, 300);
    add(
      'no-op job round trip (median of 300)',
      `${median(platQ).toFixed(2)} ms`,
      `${median(rawQ).toFixed(2)} ms`,
      (median(platQ) / median(rawQ)).toFixed(2),
      '',
    );
    add('no-op job round trip (p99 of 300)', `${p99(platQ).toFixed(2)} ms`, `${p99(rawQ).toFixed(2)} ms`, (p99(platQ) / p99(rawQ)).toFixed(2), '');

    await recoveryBench(add);
    await restartBench(add);
    await upgradeBench(add);
    await backupBench(add);
    await failoverBench(add);
    await nodeLossBench(add);
    await scaleBench(add);
    await soakBench(p, add);
    await memoryBench(p, idle, add);
  } finally {
    await p.stop();
  }
  printTable(rows);
}

function printTable(rows: string[][]): void {
  const header = ['measure', 'Gearshift', 'raw floor', 'ratio', 'goal'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log('');
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  console.log('');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`bench failed: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
