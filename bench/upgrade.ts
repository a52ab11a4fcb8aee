import { eventually } from '../test/support/platform';
import { hostRequest } from '../test/support/http';
import { ROOT } from '../test/support/processes';
import { ScriptedPlatform, TrafficLoad } from '../test/support/scripted';
import { currentCommit, EarlierCheckout, upgradeFrom } from '../test/support/upgrade';

type AddRow = (what: string, platform: string, floor: string, ratio: string, goal: string) => void;

/**
 * Upgrade: the previous commit (GEARSHIFT_UPGRADE_FROM to choose another), brought up from a temporary checkout with
 * one static app, is upgraded by this checkout's `npm run up -- --detach` while about 20 requests a second go to the
 * app through the router: the failed requests and the longest gap between good answers.
 */
export async function upgradeBench(add: AddRow): Promise<void> {
  const from = upgradeFrom();
  const earlier = new EarlierCheckout(from);
  const p = new ScriptedPlatform('bench-upgrade');
  p.checkout = earlier.dir;
  try {
    earlier.build();
    await p.start();
    await p.api('POST', '/domains', { name: 'upg' });
    const app = await p.api('POST', '/domains/upg/apps?wait=120', { name: 'web', cartridges: ['static'] });
    if (app.body.operation?.state !== 'succeeded') throw new Error(`upgrade bench app failed: ${JSON.stringify(app.body)}`);
    const host = 'web-upg.localhost';
    await eventually('the router to serve the app', async () => (await hostRequest(p.routerPort, host).catch(() => null))?.status === 200, 60_000, 100);
    const load = new TrafficLoad(p.routerPort, host);
    await new Promise((r) => setTimeout(r, 1000));
    p.checkout = ROOT;
    const t0 = performance.now();
    await p.script('up', '--detach');
    const took = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 3000));
    await load.stop();
    const to = currentCommit();
    add(`upgrade ${from.slice(0, 7)} → ${to.slice(0, 7)} (npm run up), failed requests (of ${load.answers.length})`, String(load.failed.length), '', '', '0');
    add('  longest gap between good answers', `${load.longestGap} ms`, '', '', '< 100 ms');
    add('  npm run up took (build, images, migrations, roll)', `${(took / 1000).toFixed(1)} s`, '', '', '');
  } finally {
    await p.remove();
    earlier.remove();
  }
}
