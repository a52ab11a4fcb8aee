import { eventually, Platform } from '../test/support/platform';
import { freePort } from '../test/support/processes';

type AddRow = (what: string, platform: string, floor: string, ratio: string, goal: string) => void;

const ROUNDS = Number(process.env.BENCH_FAILOVER_ROUNDS || 3);

/**
 * Broker failover: two brokers on one database and Redis prefix; the leader is killed with -9, and the clock runs
 * until the other answers an authenticated call, leads (its loops run again), and carries an app's creation through to
 * running. The killed broker is started again (as a follower) before the next round, which kills the new leader.
 */
export async function failoverBench(add: AddRow): Promise<void> {
  const p = await Platform.start('bench-failover');
  try {
    const ports = [p.port, await freePort()];
    await p.startBroker(ports[1]);
    await p.api('POST', '/domains', { name: 'failover' });
    const leads = async (port: number) => {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/healthz`).catch(() => null);
      return res?.status === 200 && ((await res.json()) as { leader: boolean }).leader;
    };
    const call = (port: number, method: string, path: string, body?: unknown) =>
      fetch(`http://127.0.0.1:${port}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    let answering = 0;
    let leading = 0;
    let created = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const leader = (await leads(ports[0])) ? 0 : 1;
      const other = ports[1 - leader];
      const proc = leader === 0 ? p.broker! : p.brokers.get(ports[1])!;
      const t0 = performance.now();
      await proc.kill('SIGKILL');
      await eventually('the other broker to answer', async () => (await call(other, 'GET', '/domains').catch(() => null))?.status === 200, 30_000, 10);
      answering = Math.max(answering, performance.now() - t0);
      await eventually('the other broker to lead', () => leads(other), 30_000, 10);
      leading = Math.max(leading, performance.now() - t0);
      const res = await call(other, 'POST', '/domains/failover/apps?wait=120', { name: `after${i}`, cartridges: ['static'] });
      const body = (await res.json()) as { operation?: { state: string } };
      if (body.operation?.state !== 'succeeded') throw new Error(`app after${i} failed after the failover: ${JSON.stringify(body)}`);
      created = Math.max(created, performance.now() - t0);
      await p.startBroker(ports[leader]);
    }
    add(`broker failover, kill -9 of the leader (worst of ${ROUNDS}): the other answers`, `${answering.toFixed(0)} ms`, '', '', '< 5 s');
    add('  the other leads (sweeper, autoscaler, janitors running)', `${leading.toFixed(0)} ms`, '', '', '< 5 s');
    add('  an app created through it is running', `${created.toFixed(0)} ms`, '', '', '');
  } finally {
    await p.stop();
  }
}
