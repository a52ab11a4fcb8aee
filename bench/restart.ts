import { eventually } from '../test/support/platform';
import { hostRequest } from '../test/support/http';
import { ScriptedPlatform, TrafficLoad } from '../test/support/scripted';

type AddRow = (what: string, platform: string, floor: string, ratio: string, goal: string) => void;

const ROUNDS = Number(process.env.BENCH_RESTART_ROUNDS || 2);

/**
 * Restart: a platform brought up by the real `npm run up -- --detach`, with one static app, is taken down with
 * `npm run down` and brought up again while about 20 requests a second go to the app through the router: the failed
 * requests and the longest gap between good answers, over all rounds, beside the longest gap with nothing restarting.
 */
export async function restartBench(add: AddRow): Promise<void> {
  const p = new ScriptedPlatform('bench-restart');
  try {
    await p.start();
    await p.api('POST', '/domains', { name: 'restart' });
    const app = await p.api('POST', '/domains/restart/apps?wait=120', { name: 'web', cartridges: ['static'] });
    if (app.body.operation?.state !== 'succeeded') throw new Error(`restart bench app failed: ${JSON.stringify(app.body)}`);
    const host = 'web-restart.localhost';
    await eventually('the router to serve the app', async () => (await hostRequest(p.routerPort, host).catch(() => null))?.status === 200, 60_000, 100);
    // The floor: the longest gap with nothing restarting, over the same time a round takes (the machine's own jitter).
    const steady = new TrafficLoad(p.routerPort, host);
    await new Promise((r) => setTimeout(r, Number(process.env.BENCH_RESTART_FLOOR_MS || 20_000)));
    await steady.stop();
    let requests = 0;
    let failed = 0;
    let gap = 0;
    let took = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const load = new TrafficLoad(p.routerPort, host);
      await new Promise((r) => setTimeout(r, 1000));
      const t0 = performance.now();
      await p.script('down');
      await p.script('up', '--detach');
      took = Math.max(took, performance.now() - t0);
      await new Promise((r) => setTimeout(r, 3000));
      await load.stop();
      requests += load.answers.length;
      failed += load.failed.length;
      gap = Math.max(gap, load.longestGap);
    }
    add(`restart: npm run down + up -- --detach, failed requests (of ${requests}, ${ROUNDS} rounds)`, String(failed), '', '', '0');
    add(
      '  longest gap between good answers (floor: nothing restarting)',
      `${gap} ms`,
      `${steady.longestGap} ms`,
      (gap / Math.max(1, steady.longestGap)).toFixed(2),
      '< 100 ms',
    );
    add('  down + up took (longest)', `${(took / 1000).toFixed(1)} s`, '', '', '');
  } finally {
    await p.remove();
  }
}
