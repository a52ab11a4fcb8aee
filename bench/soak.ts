import { readFileSync } from 'node:fs';
import type { Platform } from '../test/support/platform';

type AddRow = (what: string, platform: string, floor: string, ratio: string, goal: string) => void;

const SECONDS = Number(process.env.BENCH_SOAK_SECONDS || 600);
const CLIENTS = 8;
const rssMb = (pid: number) => Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024);
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))];

/** One request as a client sends it: what, and whether it is an ordinary call or a hostile one. */
interface Shot {
  hostile: boolean;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/**
 * The soak: CLIENTS clients send a mix of ordinary API calls (reads, bad input a user makes by mistake, env changes
 * on a serving app) and hostile ones (unauthenticated megabytes, wrong media types, deep JSON, path tricks) for
 * BENCH_SOAK_SECONDS. It reports the broker's resident memory before and after (settled), the p99 latency of the
 * ordinary calls, the number of 5xx answers, and whether the broker process is the one that started.
 */
export async function soakBench(p: Platform, add: AddRow): Promise<void> {
  const pid = p.broker!.child.pid!;
  await p.api('POST', '/domains', { name: 'soak' });
  const app = await p.api('POST', '/domains/soak/apps?wait=120', { name: 'web', cartridges: ['static'] });
  if (app.body.operation?.state !== 'succeeded') throw new Error(`soak app failed: ${JSON.stringify(app.body)}`);
  await new Promise((r) => setTimeout(r, 10_000));
  const before = rssMb(pid);

  const auth = { authorization: `Bearer ${p.token}` };
  const json = { ...auth, 'content-type': 'application/json' };
  const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
  const ordinary: Shot[] = [
    { hostile: false, method: 'GET', path: '/domains', headers: auth },
    { hostile: false, method: 'GET', path: '/domains/soak/apps', headers: auth },
    { hostile: false, method: 'GET', path: '/domains/soak/apps/web', headers: auth },
    { hostile: false, method: 'GET', path: '/domains/soak/apps/web/operations', headers: auth },
    { hostile: false, method: 'GET', path: '/cartridges', headers: auth },
    { hostile: false, method: 'GET', path: '/nodes', headers: auth },
    { hostile: false, method: 'POST', path: '/domains/soak/apps', headers: json, body: JSON.stringify({ name: 'Bad Name', cartridges: ['nope'] }) },
    { hostile: false, method: 'GET', path: '/domains/soak/apps/missing', headers: auth },
  ];
  const hostile: Shot[] = [
    { hostile: true, method: 'POST', path: '/nodes/register', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(2 * 1024 * 1024) },
    { hostile: true, method: 'POST', path: '/auth/login', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(64 * 1024) },
    { hostile: true, method: 'POST', path: '/domains', headers: json, body: deep },
    {
      hostile: true,
      method: 'PATCH',
      path: '/domains/soak/apps/web/env',
      headers: json,
      body: JSON.stringify(Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`9bad-${i}`, 'x']))),
    },
    { hostile: true, method: 'POST', path: '/domains/soak/apps', headers: { ...auth, 'content-type': 'text/html' }, body: '<html>' },
    { hostile: true, method: 'GET', path: '/domains/..%2f..%2fetc%2fpasswd/apps', headers: auth },
    { hostile: true, method: 'GET', path: '/domains/%00/apps/%ff', headers: auth },
    { hostile: true, method: 'DELETE', path: '/domains/soak/apps/web' },
  ];

  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  let errors = 0;
  let requests = 0;
  let envChanges = 0;
  const deadline = Date.now() + SECONDS * 1000;
  const send = async (s: Shot) => {
    const t0 = performance.now();
    try {
      const res = await fetch(`${p.baseUrl}/api/v1${s.path}`, { method: s.method, headers: s.headers, body: s.body, signal: AbortSignal.timeout(30_000) });
      await res.arrayBuffer().catch(() => undefined);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (!s.hostile) latencies.push(performance.now() - t0);
    } catch {
      // A refused or reset connection is what a hostile body may get; for an ordinary call it is a failure.
      if (!s.hostile) errors++;
    }
    requests++;
  };
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      for (let i = 0; Date.now() < deadline; i++) {
        // Client 0 also changes the serving app's environment now and then: a whole operation through the platform.
        if (c === 0 && i % 200 === 199) {
          const res = await p.api('PATCH', '/domains/soak/apps/web/env?wait=120', { SOAK: String(i) });
          if (res.status < 500) envChanges++;
          else errors++;
          continue;
        }
        await send(i % 4 === 3 ? hostile[(i >> 2) % hostile.length] : ordinary[i % ordinary.length]);
      }
    }),
  );
  const alive = p.broker!.alive && p.broker!.child.pid === pid;
  // Settled: the collector has had the time it takes after load.
  let after = rssMb(pid);
  for (let i = 0; i < 12 && after > before + 20; i++) {
    await new Promise((r) => setTimeout(r, 5000));
    after = rssMb(pid);
  }
  const fiveXx = [...statuses].filter(([s]) => s >= 500).reduce((n, [, k]) => n + k, 0);
  add(
    `soak: ${SECONDS} s, ${CLIENTS} clients, ${requests} requests (¼ hostile), ${envChanges} env rollouts`,
    alive ? 'broker up throughout' : 'BROKER DIED',
    '',
    '',
    'no crash',
  );
  add('  broker resident memory, before → after (settled)', `${before} → ${after} MB`, '', `${after - before >= 0 ? '+' : ''}${after - before} MB`, '≤ +20 MB');
  add('  p99 latency of ordinary API calls', `${quantile(latencies, 0.99).toFixed(1)} ms`, `p50 ${quantile(latencies, 0.5).toFixed(1)} ms`, '', '');
  add('  5xx answers; failed ordinary calls', `${fiveXx}; ${errors}`, '', '', '0; 0');
}
