import { readFileSync } from 'node:fs';
import { Queue, QueueEvents, Worker, type ConnectionOptions } from 'bullmq';
import IORedis from 'ioredis';
import { hashFolder, nodeQueue } from '@gearshift/cartridges';
import { docker, eventually, Platform, ROOT } from '../test/support/platform';
import { join } from 'node:path';

/**
 * `npm run bench`: what the platform costs over the raw floor, measured in the same run on the same machine.
 *   gear start  app create → healthy through the API   vs  raw dockerode create + start + the same health wait
 *   queue       a no-op job through a node's queue       vs  a raw BullMQ round trip on the same Redis
 *   memory      broker and agent resident memory, idle and with 100 apps
 */

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const ROUNDS = Number(process.env.BENCH_ROUNDS || 7);
const APPS = Number(process.env.BENCH_APPS || 100);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))];
const rssMb = (pid: number) => Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024);

async function waitHttp(url: string): Promise<void> {
  for (;;) {
    const ok = await fetch(url, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false);
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
    const job = await queue.add('node.ping', { sentAt: Date.now() }, { removeOnComplete: { count: 1000 } });
    await job.waitUntilFinished(events);
    times.push(performance.now() - t0);
  }
  await events.close();
  await queue.close();
  connection.disconnect();
  return times;
}

async function main(): Promise<void> {
  const rows: string[][] = [];
  const add = (what: string, platform: string, floor: string, ratio: string, goal: string) => rows.push([what, platform, floor, ratio, goal]);
  const p = await Platform.start('bench', { node1: { memoryMb: 64 * 1024, maxGears: 1000 } });
  try {
    const brokerPid = p.broker!.child.pid!;
    const agentPid = p.agents.get('node1')!.child.pid!;
    await new Promise((r) => setTimeout(r, 5000));
    const idle = { broker: rssMb(brokerPid), agent: rssMb(agentPid) };

    const nodeImage = `gearshift/nodejs-18:${hashFolder(join(ROOT, 'cartridges/nodejs-18'))}`;
    await p.api('POST', '/domains', { name: 'bench' });

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
    add(`gear start: app create → healthy (median of ${ROUNDS})`, `${median(platform).toFixed(0)} ms`, `${median(raw).toFixed(0)} ms`, gearRatio.toFixed(2), '≤ 1.20');
    add('  same, floor with its own network as each app has', `${median(platform).toFixed(0)} ms`, `${median(rawNet).toFixed(0)} ms`, (median(platform) / median(rawNet)).toFixed(2), '');

    const nodes = await p.api('GET', '/nodes');
    const nodeId = nodes.body[0].id as string;
    const rawQ = await rawQueueRoundTrips(300);
    const platQ = await platformQueueRoundTrips(p, nodeId, 300);
    add('no-op job round trip (median of 300)', `${median(platQ).toFixed(2)} ms`, `${median(rawQ).toFixed(2)} ms`, (median(platQ) / median(rawQ)).toFixed(2), '');
    add('no-op job round trip (p99 of 300)', `${p99(platQ).toFixed(2)} ms`, `${p99(rawQ).toFixed(2)} ms`, (p99(platQ) / p99(rawQ)).toFixed(2), '');

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
    await new Promise((r) => setTimeout(r, 5000));
    const loaded = { broker: rssMb(brokerPid), agent: rssMb(agentPid) };
    add('broker + agent resident memory, idle', `${idle.broker + idle.agent} MB`, `broker ${idle.broker} + agent ${idle.agent}`, '', '< 200 MB');
    add(`broker + agent resident memory, ${APPS} apps running`, `${loaded.broker + loaded.agent} MB`, `broker ${loaded.broker} + agent ${loaded.agent}`, '', '< 200 MB');
    add(`${APPS} static apps created, 4 at a time`, `${createAllS.toFixed(1)} s`, `${((createAllS * 1000) / APPS).toFixed(0)} ms per app`, '', '');
  } finally {
    await p.stop();
  }

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
