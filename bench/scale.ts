import { createServer, type Server } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { loadConfig } from '../apps/node-agent/src/config';
import { agentLog, startAgent, type RunningAgent } from '../apps/node-agent/src/main';
import { MemoryDocker } from '../apps/node-agent/src/memory-docker';
import { explainPlacement, type NodeCandidate } from '../apps/broker/src/nodes/placement';
import { hostRequest } from '../test/support/http';
import { eventually, Platform } from '../test/support/platform';
import { REDIS_URL } from '../test/support/stores';
import type { LoadMessage, LoadOrder, LoadResult } from './scale-load';

type AddRow = (what: string, platform: string, floor: string, ratio: string, goal: string) => void;

/** One simulated node: the real agent code on an in-memory Docker. */
export interface SimNode {
  name: string;
  zone: string;
  docker: MemoryDocker;
  agent: RunningAgent;
}

export interface Simulation {
  p: Platform;
  nodes: SimNode[];
  /** Broker resident memory (MB) against the gears placed so far, sampled as they were created. */
  rss: { gears: number; mb: number }[];
  /** Gears placed per second while the apps were created (each create places its replicas in its transaction). */
  placementsPerSecond: number;
  /** The broker's CPU time (user + system) while the apps were created, per gear placed, in ms. */
  cpuMsPerPlacement: number;
  /** Gears running per second, from the first create to the last gear reported running on its node. */
  runningPerSecond: number;
  /** How long each create took to be answered (ms): with many in flight, most of it is waiting for the ones before. */
  createMs: number[];
  /** Postgres's and Redis's CPU time while the apps were created, per gear placed, in ms (the whole machine's). */
  storesMsPerPlacement: { postgres: number; redis: number };
  /** This process (the load and every simulated agent) while the apps were created: its CPU share of one core, and its event loop's worst delay. */
  simulator: { cpuShare: number; loopDelayMaxMs: number; loopDelayP99Ms: number };
  stop(): Promise<void>;
}

const rssMb = (pid: number) => Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024);
/** CPU time (user + system) of a process so far, in ms. */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ 100)
}
/** CPU time (ms) so far of every process of this machine whose command is `comm` (Postgres's backends, Redis). */
export function cpuMsOf(comm: string): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === comm) total += cpuMs(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return total;
}
export const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))];

/** Runs `work` over `items`, `width` at a time. */
async function pool<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

/**
 * A broker on its own database and Redis prefix, `nodes` simulated nodes in `zones` zones joined with a token as
 * real ones join, and `apps` web apps of `replicas` gears each created through the API, `width` at a time. Returns
 * once every gear runs on its node's in-memory Docker.
 */
export async function simulate(o: {
  nodes: number;
  zones: number;
  apps: number;
  replicas: number;
  width?: number;
  heartbeatMs?: number;
  /** Node's flags for the broker (the platform's usual ones unless given). */
  brokerFlags?: string[];
}): Promise<Simulation> {
  const health: Server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => health.listen(0, '127.0.0.1', resolve));
  const healthPort = (health.address() as { port: number }).port;
  // The simulated agents share this one process (and its event loop) with each other and the caller: a beat late by
  // seconds there is this process being busy, not a node gone. The simulation measures placement and heartbeat work;
  // losing nodes is measured on lab nodes (BENCH_ONLY=node-loss).
  const p = await Platform.start('scale', {}, { env: { GEARSHIFT_HEARTBEAT_TIMEOUT_MS: '60000' }, brokerFlags: o.brokerFlags });
  const nodes: SimNode[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.agent.stop().catch(() => undefined)));
    await p.stop();
    health.close();
  };
  try {
    // Agents print only what goes wrong: a hundred of them share this process's output.
    agentLog.level = 'warn';
    const token = (await p.api('POST', '/nodes/tokens', { uses: o.nodes, ttlHours: 1 })).body.token as string;
    const names = Array.from({ length: o.nodes }, (_, i) => i);
    // A few at a time: a join whose answer is lost to a timeout cannot be repeated under the same name.
    await pool(names, 3, async (i) => {
      const name = `${p.instance}-sim-${i}`;
      const zone = `zone-${i % o.zones}`;
      const config = loadConfig({
        GEARSHIFT_INSTANCE: p.instance,
        GEARSHIFT_NODE_NAME: name,
        GEARSHIFT_NODE_ZONE: zone,
        GEARSHIFT_DATA_DIR: p.dataDir,
        GEARSHIFT_BROKER_URL: p.baseUrl,
        GEARSHIFT_JOIN_TOKEN: token,
        REDIS_URL,
        GEARSHIFT_NODE_MEMORY_MB: String(256 * 1024),
        GEARSHIFT_NODE_MAX_GEARS: '1000',
        GEARSHIFT_HEARTBEAT_MS: String(o.heartbeatMs ?? 2000),
        GEARSHIFT_REGISTRY: '',
      });
      const docker = new MemoryDocker(healthPort);
      nodes.push({ name, zone, docker, agent: await startAgent(config, docker.asAdapter()) });
    });
    await eventually(
      `${o.nodes} simulated nodes to be ready`,
      async () => (await p.api('GET', '/nodes')).body.filter((n: { ready: boolean }) => n.ready).length === o.nodes,
      60_000,
      200,
    );
    if ((await p.api('POST', '/domains', { name: 'sim' })).status !== 201) throw new Error('could not create the domain sim');
    const pid = p.broker!.child.pid!;
    const rss = [{ gears: 0, mb: rssMb(pid) }];
    let created = 0;
    const loop = monitorEventLoopDelay({ resolution: 20 });
    loop.enable();
    const own0 = process.cpuUsage();
    const t0 = performance.now();
    const c0 = cpuMs(pid);
    const stores0 = { postgres: cpuMsOf('postgres'), redis: cpuMsOf('redis-server') };
    const order: LoadOrder = { baseUrl: p.baseUrl, token: p.token, domain: 'sim', apps: o.apps, replicas: o.replicas, width: o.width ?? 4 };
    const load = new Worker(join(__dirname, 'scale-load.js'), { workerData: order });
    const { createMs, elapsedMs: createdMs } = await new Promise<LoadResult>((resolve, reject) => {
      load.on('message', (m: LoadMessage) => {
        if ('created' in m) {
          created += o.replicas;
          if (created % 1000 === 0) rss.push({ gears: created, mb: rssMb(pid) });
        } else if ('done' in m) resolve(m.done);
        else reject(new Error(m.failure));
      });
      load.on('error', reject);
    }).finally(() => load.terminate());
    const placementsPerSecond = (o.apps * o.replicas) / (createdMs / 1000);
    const cpuMsPerPlacement = (cpuMs(pid) - c0) / (o.apps * o.replicas);
    const storesMsPerPlacement = {
      postgres: (cpuMsOf('postgres') - stores0.postgres) / (o.apps * o.replicas),
      redis: (cpuMsOf('redis-server') - stores0.redis) / (o.apps * o.replicas),
    };
    const own = process.cpuUsage(own0);
    loop.disable();
    const simulator = {
      cpuShare: (own.user + own.system) / 1000 / createdMs,
      loopDelayMaxMs: loop.max / 1e6,
      loopDelayP99Ms: loop.percentile(99) / 1e6,
    };
    const total = o.apps * o.replicas;
    const running = () => nodes.reduce((n, x) => n + [...x.docker.containers.values()].filter((c) => c.state === 'running').length, 0);
    await eventually(`${total} gears to run`, async () => running() === total, 600_000, 500).catch((err: Error) => {
      throw new Error(`${err.message} (${running()} run)`);
    });
    const runningPerSecond = total / ((performance.now() - t0) / 1000);
    rss.push({ gears: total, mb: rssMb(pid) });
    return { p, nodes, rss, placementsPerSecond, cpuMsPerPlacement, storesMsPerPlacement, runningPerSecond, createMs, simulator, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The broker's own figures from GET /metrics (Prometheus text): name{labels} → value. */
async function brokerMetrics(p: Platform): Promise<Map<string, number>> {
  const { status, body } = await hostRequest(p.port, 'localhost', '/metrics', undefined, 30_000);
  if (status !== 200) throw new Error(`GET /metrics: ${status}`);
  return new Map(
    body
      .split('\n')
      .filter((l) => l.startsWith('gearshift_'))
      .map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))] as [string, number]),
  );
}

/**
 * The placement decision alone, in this process: `gears` gears of apps of `replicas` spread over `nodes` nodes in
 * `zones` zones, each decision reading the usage the ones before it left (as the broker counts on within a create).
 */
function decisionsPerSecond(nodes: number, zones: number, gears: number, replicas: number): number {
  const candidates: NodeCandidate[] = Array.from({ length: nodes }, (_, i) => ({
    id: `node-${i}`,
    name: `node-${i}`,
    state: 'active',
    zone: `zone-${i % zones}`,
    lastHeartbeat: new Date(),
    memoryMb: 256 * 1024,
    maxGears: 1000,
    allocatedMb: 0,
    gears: 0,
  }));
  const t0 = performance.now();
  for (let app = 0; app < gears / replicas; app++) {
    const spread: Record<string, number> = {};
    for (let r = 0; r < replicas; r++) {
      // As an operation records them: the first few name every node, the others only the chosen one.
      const { placement } = explainPlacement(candidates, { gearsMb: [128], spread, now: new Date(), heartbeatTimeoutMs: 60_000, named: r < 3 });
      if (!placement.ok) throw new Error(placement.shortfall);
      const node = candidates.find((n) => n.id === placement.nodeId)!;
      node.allocatedMb += 128;
      node.gears += 1;
      spread[node.id] = (spread[node.id] ?? 0) + 1;
    }
  }
  return gears / ((performance.now() - t0) / 1000);
}

/** Least-squares slope of y on x. */
function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  const sxy = points.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0);
  const sxx = points.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  return sxx === 0 ? 0 : sxy / sxx;
}

/**
 * `BENCH_ONLY=scale`: 100 simulated nodes (BENCH_SCALE_NODES) in 3 zones, 10,000 gears (BENCH_SCALE_APPS apps of
 * BENCH_SCALE_REPLICAS, 1,000 of 10: a web cartridge scales to 10) against one broker on the real Postgres and Redis. Prints each figure of the
 * issue's table beside its goal: the broker's CPU per heartbeat cycle (every node reporting once), the p99 of common
 * GETs while the nodes beat, placements per second, and the broker's resident memory at the end with its slope per
 * 1,000 gears.
 *
 * Placements per second is the whole path of `POST /domains/sim/apps` with 10 replicas, 16 creates in flight
 * (BENCH_SCALE_WIDTH: a backlog, as a scheduler's throughput is measured; each create's time to its answer is printed
 * beside it), counted from the first request to the last answer, by a thread of its own (bench/scale-load.ts: the
 * simulated agents keep this one busy): each request checks the body, writes the
 * app's rows, places every replica from one read of node usage, records the operation with its placements, checks
 * under the placement lock that the placement still holds as it commits (placed again under the lock when it does
 * not: how often is printed), and queues one sealed job per node, answering 202. Meanwhile the nodes converge and report on the
 * same machine, and the broker applies their reports. Beside it: gears running per second (until the last gear runs
 * on its node), the broker's CPU per placement over that time (what one free core would give), Postgres's, Redis's
 * and this process's (on two cores the four share them, and their sum bounds the rate), and the decision alone in
 * this process. The simulated agents share this process with the load: its CPU and event loop delay are
 * printed, since a late heartbeat there is this process being busy, not the broker.
 */
export async function scaleBench(add: AddRow): Promise<void> {
  const nodeCount = Number(process.env.BENCH_SCALE_NODES || 100);
  const replicas = Number(process.env.BENCH_SCALE_REPLICAS || 10);
  const apps = Number(process.env.BENCH_SCALE_APPS || Math.round(10_000 / replicas));
  const width = Number(process.env.BENCH_SCALE_WIDTH || 16);
  const heartbeatMs = 2000;
  // A broker of 10,000 gears holds more than the 128 MB of old generation a small platform's runs with; a young
  // generation of 1 MB makes it collect garbage every few milliseconds under this load (BENCH_SCALE_BROKER_FLAGS).
  const brokerFlags = (process.env.BENCH_SCALE_BROKER_FLAGS ?? '--max-semi-space-size=64 --max-old-space-size=512').split(' ').filter(Boolean);
  const started = performance.now();
  const sim = await simulate({ nodes: nodeCount, zones: 3, apps, replicas, width, heartbeatMs, brokerFlags });
  const verdict = (met: boolean) => (met ? 'met' : 'MISSED');
  try {
    const { p } = sim;
    const pid = p.broker!.child.pid!;
    const gears = apps * replicas;
    // Heartbeats only: the broker's CPU over a quiet window, per cycle of every node reporting once. The gears run
    // before the broker has applied every node's report: the window opens once every create has ended.
    const creates = async () =>
      [...(await brokerMetrics(p))]
        .filter(([k]) => k.startsWith('gearshift_operations_total{') && k.includes('kind="app.create"'))
        .reduce((a, [, v]) => a + v, 0);
    await eventually(`${apps} creates to end`, async () => (await creates()) >= apps, 600_000, 1000);
    const windowMs = 20_000;
    const m0 = await brokerMetrics(p);
    const c0 = cpuMs(pid);
    await new Promise((r) => setTimeout(r, windowMs));
    const quietCpu = cpuMs(pid) - c0;
    const m1 = await brokerMetrics(p);
    const perCycle = quietCpu / (windowMs / heartbeatMs);
    const gcMs = (m: Map<string, number>, kind: string) => (m.get(`gearshift_broker_nodejs_gc_duration_seconds_sum{kind="${kind}"}`) ?? 0) * 1000;
    const gcShare = (kind: string) => (quietCpu > 0 ? ((gcMs(m1, kind) - gcMs(m0, kind)) / quietCpu) * 100 : 0);
    add(
      `simulated ${nodeCount} nodes / ${gears} gears: broker CPU per heartbeat cycle (all its loops, while quiet)`,
      `${perCycle.toFixed(0)} ms (${((perCycle / heartbeatMs) * 100).toFixed(0)}% of a core at one beat per ${heartbeatMs / 1000} s; ` +
        `GC ${gcShare('minor').toFixed(0)}% young, ${(gcShare('major') + gcShare('incremental')).toFixed(0)}% old of it)`,
      '-',
      '-',
      `< ${heartbeatMs} ms: ${verdict(perCycle < heartbeatMs)}`,
    );
    const paths = ['/nodes', '/domains', '/domains/sim/apps/app1', '/domains/sim/apps/app1/operations'];
    const times: number[] = [];
    const byPath = new Map<string, number[]>();
    for (let i = 0; i < 400; i++) {
      const path = paths[i % paths.length].replace('app1', `app${(i * 7) % apps}`);
      const t = performance.now();
      const r = await p.api('GET', path);
      const ms = performance.now() - t;
      times.push(ms);
      byPath.set(paths[i % paths.length], [...(byPath.get(paths[i % paths.length]) ?? []), ms]);
      if (r.status !== 200) throw new Error(`GET ${path}: ${r.status}`);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    add(
      `simulated: API p99 (GET ${paths.join(', ')}) while the nodes beat`,
      `${p99(times).toFixed(1)} ms (median ${median(times).toFixed(1)} ms; p99 by path: ${[...byPath].map(([k, v]) => `${k.replace('app1', 'appN')} ${p99(v).toFixed(0)}`).join(', ')})`,
      '-',
      '-',
      `< 50 ms: ${verdict(p99(times) < 50)}`,
    );
    add(
      `simulated: placements per second (POST of apps of ${replicas} replicas, ${width} at a time, first request to last answer)`,
      `${sim.placementsPerSecond.toFixed(0)}/s; ${sim.runningPerSecond.toFixed(0)}/s running; broker CPU ${sim.cpuMsPerPlacement.toFixed(1)} ms per placement (${(1000 / sim.cpuMsPerPlacement).toFixed(0)}/s on a free core), ` +
        `Postgres ${sim.storesMsPerPlacement.postgres.toFixed(1)} ms, Redis ${sim.storesMsPerPlacement.redis.toFixed(1)} ms, this process ${((sim.simulator.cpuShare * 1000) / sim.placementsPerSecond).toFixed(1)} ms; ` +
        `a create answered in ${median(sim.createMs).toFixed(0)} ms median, ${p99(sim.createMs).toFixed(0)} ms p99; ` +
        `${m1.get('gearshift_placement_checks_total{outcome="placed_again"}') ?? 0} of ${apps} placed again under the lock`,
      `${decisionsPerSecond(nodeCount, 3, gears, replicas).toFixed(0)}/s decision alone`,
      '-',
      `>= 500/s: ${verdict(sim.placementsPerSecond >= 500)}`,
    );
    const last = sim.rss[sim.rss.length - 1];
    const perK = slope(sim.rss.map((r) => ({ x: r.gears, y: r.mb }))) * 1000;
    const heapMb = (m1.get('gearshift_broker_nodejs_heap_size_used_bytes') ?? 0) / 1024 / 1024;
    add(
      `simulated: broker resident memory at ${last.gears} gears`,
      `${last.mb} MB, ${perK.toFixed(1)} MB per 1,000 gears (JS heap in use ${heapMb.toFixed(0)} MB)`,
      `${sim.rss[0].mb} MB at 0`,
      '-',
      'printed',
    );
    add(
      'simulated: this process while creating (the load and every simulated agent)',
      `${(sim.simulator.cpuShare * 100).toFixed(0)}% of a core; event loop delay p99 ${sim.simulator.loopDelayP99Ms.toFixed(0)} ms, max ${sim.simulator.loopDelayMaxMs.toFixed(0)} ms`,
      '-',
      '-',
      `whole run ${((performance.now() - started) / 60_000).toFixed(1)} min; broker ${brokerFlags.join(' ')}`,
    );
  } finally {
    await sim.stop();
  }
}
