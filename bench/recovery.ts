import { readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { Platform } from '../test/support/platform';

type AddRow = (what: string, platform: string, floor: string, ratio: string, goal: string) => void;

const ROUNDS = Number(process.env.BENCH_RECOVERY_ROUNDS || 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Recovery: the broker, agent and router under the supervisor as `npm run up` runs them; each is killed with
 * SIGKILL and timed until it is healthy again (the broker answers /healthz, the agent has registered its heartbeat
 * again, the router has taken over HAProxy and applied the route table), beside the longest stretch of failed
 * requests through the router meanwhile.
 */
export async function recoveryBench(add: AddRow): Promise<void> {
  const p = await Platform.start('recovery', {});
  try {
    await p.startSupervised('node1');
    await p.api('POST', '/domains', { name: 'rec' });
    const app = await p.api('POST', '/domains/rec/apps?wait=120', { name: 'web', cartridges: ['static'] });
    if (app.body.operation?.state !== 'succeeded') throw new Error(`recovery bench app failed: ${JSON.stringify(app.body)}`);
    const logOf = (part: string) => readFileSync(join(p.dataDir, 'logs', `${part}.log`), 'utf8');
    const count = (part: string, re: RegExp) => (logOf(part).match(re) ?? []).length;
    const fresh = new Agent({ keepAlive: false });
    const healthy: Record<'broker' | 'agent' | 'router', () => Promise<() => Promise<boolean>>> = {
      broker: async () => async () => (await fetch(`${p.baseUrl}/api/v1/healthz`).catch(() => null))?.status === 200,
      agent: async () => {
        const before = count('agent', / ready: /g);
        return async () => count('agent', / ready: /g) > before;
      },
      router: async () => {
        const before = count('router', /serving \d+ app/g);
        return async () =>
          count('router', /serving \d+ app/g) > before && (await p.viaRouter('web-rec.localhost', '/', fresh).catch(() => null))?.status === 200;
      },
    };
    for (const part of ['broker', 'agent', 'router'] as const) {
      const times: number[] = [];
      let worstGap = 0;
      for (let i = 0; i < ROUNDS; i++) {
        const pid = p.supervisedPid(part);
        const check = await healthy[part]();
        let failingSince = 0;
        const t0 = performance.now();
        process.kill(pid, 'SIGKILL');
        for (;;) {
          const ok = (await p.viaRouter('web-rec.localhost', '/', fresh).catch(() => null))?.status === 200;
          if (!ok && !failingSince) failingSince = performance.now();
          if (ok && failingSince) {
            worstGap = Math.max(worstGap, performance.now() - failingSince);
            failingSince = 0;
          }
          if (p.supervisedPid(part) !== pid && (await check())) break;
          if (performance.now() - t0 > 120_000) throw new Error(`${part} did not come back within 120 s`);
          await new Promise((r) => setTimeout(r, 20));
        }
        times.push(performance.now() - t0);
        // Settle, so that the next kill does not count as a crash loop.
        await new Promise((r) => setTimeout(r, 2000));
      }
      add(`recovery: ${part} kill -9 → healthy (median of ${ROUNDS})`, `${(median(times) / 1000).toFixed(2)} s`, '', '', '< 3 s');
      add(`  requests through the router failing meanwhile (longest)`, `${worstGap.toFixed(0)} ms`, '', '', '');
    }
  } finally {
    await p.stop();
  }
}
