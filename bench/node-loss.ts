import { eventually } from '../test/support/platform';
import { LabPlatform } from '../test/support/lab-platform';
import { routerTraffic } from '../test/support/traffic';

type AddRow = (what: string, platform: string, floor: string, ratio: string, goal: string) => void;

const NODES = Number(process.env.BENCH_LAB_NODES || 3);
const RATE = 50;

interface GearView {
  id: string;
  node: string;
  state: string;
}

/**
 * Node loss: an app with one web replica on each of the lab nodes takes 50 requests a second through the router; the
 * host of one node is killed (`docker kill`), and the clock runs until the replica it held runs on another node.
 * Requests go on for a few seconds more; each that did not answer 200 counts as failed.
 */
export async function nodeLossBench(add: AddRow): Promise<void> {
  const l = await LabPlatform.start('bench-loss', NODES, ['static']);
  const { p } = l;
  try {
    await p.api('POST', '/domains', { name: 'loss' });
    const created = await p.api('POST', '/domains/loss/apps?wait=600', { name: 'site', cartridges: ['static'], scale: NODES });
    if (created.body.operation?.state !== 'succeeded') throw new Error(`the app did not start: ${JSON.stringify(created.body)}\n${l.nodeLogs()}`);
    const [first] = created.body.gears as GearView[];
    await eventually('the router to serve the app', async () => (await p.viaRouter('site-loss.localhost')).status === 200, 60_000, 250);

    const traffic = routerTraffic(p, 'site-loss.localhost', RATE);
    await new Promise((r) => setTimeout(r, 2000));
    const t0 = performance.now();
    l.kill(first.node);
    let back = 0;
    await eventually(
      'the replica to run on another node',
      async () => {
        const g = ((await p.api('GET', '/domains/loss/apps/site')).body.gears as GearView[]).find((x) => x.id === first.id);
        if (g && g.node !== first.node && g.state === 'running') back = performance.now() - t0;
        return back > 0;
      },
      60_000,
      20,
    );
    await new Promise((r) => setTimeout(r, 3000));
    const { sent, failures } = await traffic.stop();
    const failed = failures.length;
    add(`node loss (docker kill of 1 of ${NODES} lab nodes) → replica serving elsewhere`, `${(back / 1000).toFixed(2)} s`, '', '', '< 5 s');
    add(`  failed requests during the loss, at ${RATE} req/s`, `${failed} of ${sent} (${((100 * failed) / sent).toFixed(2)}%)`, '', '', '< 1%');
  } finally {
    await l.stop();
  }
}
