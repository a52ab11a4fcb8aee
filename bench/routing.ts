import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { docker, eventually, type Platform } from '../test/support/platform';

type AddRow = (what: string, platform: string, floor: string, ratio: string, goal: string) => void;

interface WrkResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

const toMs = (v: string) => {
  const m = /([\d.]+)(us|ms|s)/.exec(v)!;
  return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
};

/** wrk with keep-alive connections against a URL; the same tool and settings for every target. */
async function wrk(url: string, host?: string): Promise<WrkResult> {
  const { stdout: out } = await promisify(execFile)('wrk', ['-t1', '-c32', '-d5s', '--latency', ...(host ? ['-H', `Host: ${host}`] : []), url], {
    encoding: 'utf8',
  });
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)![1]),
    p50Ms: toMs(/\s50%\s+(\S+)/.exec(out)![1]),
    p99Ms: toMs(/\s99%\s+(\S+)/.exec(out)![1]),
    errors: (errors ? Number(errors[1]) : 0) + (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
  };
}

const signed = (ms: number) => `${ms >= 0 ? '+' : '−'}${Math.abs(ms).toFixed(2)} ms`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** wrk through the router versus straight to the container; then the first request to an idle app. */
export async function routingBench(p: Platform, gearStartMs: number, add: AddRow): Promise<void> {
  // Routing: the same load through the router, straight to the container's own address (the floor: nothing in
  // between) and to the gear's published port (through Docker's port proxy), alternating.
  const routed = await p.api('POST', '/domains/bench/apps?wait=120', { name: 'routed', cartridges: ['nodejs-18'] });
  const publishedUrl = `${routed.body.gears[0].endpoints.http}/health`;
  const [gearContainer] = await p.containers({ 'gearshift.app-name': 'routed' });
  const ownAddress = Object.values((await docker.getContainer(gearContainer.Id).inspect()).NetworkSettings.Networks)[0].IPAddress;
  const gearUrl = `http://${ownAddress}:8080/health`;
  const routerUrl = `http://127.0.0.1:${p.routerPort}/health`;
  await eventually('the router to serve the app', async () => (await p.viaRouter('routed-bench.localhost', '/health')).status === 200, 15_000, 100);
  const direct: WrkResult[] = [];
  const viaRouter: WrkResult[] = [];
  const viaPublished: WrkResult[] = [];
  // Five alternating rounds: on two cores one run swings by a fifth either way, so medians are compared.
  const ROUTING_ROUNDS = 5;
  for (let i = 0; i < ROUTING_ROUNDS; i++) {
    direct.push(await wrk(gearUrl));
    viaRouter.push(await wrk(routerUrl, 'routed-bench.localhost'));
    viaPublished.push(await wrk(publishedUrl));
  }
  const med = (rs: WrkResult[], k: keyof WrkResult) => median(rs.map((r) => r[k]));
  const n = `median of ${ROUTING_ROUNDS}`;
  const [d, r, pub] = [med(direct, 'rps'), med(viaRouter, 'rps'), med(viaPublished, 'rps')];
  add(`router throughput, wrk -c32 keep-alive (${n})`, `${r.toFixed(0)} req/s`, `${d.toFixed(0)} req/s direct`, (r / d).toFixed(2), '≥ 0.90');
  add(
    `router latency p50 (${n})`,
    `${med(viaRouter, 'p50Ms').toFixed(2)} ms`,
    `${med(direct, 'p50Ms').toFixed(2)} ms direct`,
    signed(med(viaRouter, 'p50Ms') - med(direct, 'p50Ms')),
    '',
  );
  add(
    `router latency p99 (${n})`,
    `${med(viaRouter, 'p99Ms').toFixed(2)} ms`,
    `${med(direct, 'p99Ms').toFixed(2)} ms direct`,
    signed(med(viaRouter, 'p99Ms') - med(direct, 'p99Ms')),
    '< +1 ms',
  );
  add("  for comparison: the published port (Docker's proxy)", `${pub.toFixed(0)} req/s`, `${d.toFixed(0)} req/s direct`, (pub / d).toFixed(2), '');
  const errors = [...direct, ...viaRouter, ...viaPublished].reduce((n, x) => n + x.errors, 0);
  if (errors > 0) add('errors during the load runs', String(errors), '', '', '0');

  // Wake from idle: the first request to a sleeping app, answered.
  await p.api('PATCH', '/domains/bench/apps/routed', { idleAfterSeconds: 1 });
  await eventually('the app to idle', async () => (await p.api('GET', '/domains/bench/apps/routed')).body.state === 'idle', 30_000, 100);
  await new Promise((res) => setTimeout(res, 1000));
  const w0 = performance.now();
  const woke = await p.viaRouter('routed-bench.localhost', '/health');
  const wakeMs = performance.now() - w0;
  if (woke.status !== 200) throw new Error(`wake failed: ${woke.status}`);
  add('wake from idle: first request answered', `${wakeMs.toFixed(0)} ms`, `${gearStartMs.toFixed(0)} ms gear start`, (wakeMs / gearStartMs).toFixed(2), '');
  await p.api('DELETE', '/domains/bench/apps/routed?wait=60');
}
