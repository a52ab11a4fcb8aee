import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, type Platform } from './support/platform';
import { LabPlatform } from './support/lab-platform';
import { routerTraffic, type TrafficTally } from './support/traffic';

/** Three lab nodes, as the issue asks: one web replica on each. */
const NODES = 3;

interface GearView {
  id: string;
  cartridge: string;
  node: string;
  state: string;
}

/**
 * Draining a lab node (a host of its own with its own Docker Engine; see lab.test.ts) under load: an app with a web
 * replica on each of three nodes and a database, about 40 requests a second through the router while the node that
 * holds the database and a replica is drained. The replica starts on another node before the old one leaves the
 * routers and stops, so that no request fails; the database stays, its data being on the node, and the drain says so.
 */
describe('draining a lab node', { timeout: 1_800_000 }, () => {
  let l: LabPlatform;
  let p: Platform;
  const apps = '/domains/tide/apps';
  const gearsOf = async (app: string) => ((await p.api('GET', `${apps}/${app}`)).body as { gears: GearView[] }).gears;
  /** The gear ids of every container of the app on lab node `node`. */
  const containersOn = (node: string, app: string) =>
    l.inNode(node, 'docker', 'ps', '-a', '--filter', `label=gearshift.app-name=${app}`, '--format', '{{.Label "gearshift.gear"}}').split('\n').filter(Boolean);

  before(async () => {
    l = await LabPlatform.start('ldrain', NODES, ['static', 'postgresql-15']);
    p = l.p;
    assert.equal((await p.api('POST', '/domains', { name: 'tide' })).status, 201);
  });

  after(async () => {
    await l?.stop();
  });

  it('moves the web replica off a drained node with no failed request, and leaves the database there, named', async () => {
    // Made with its database, an app's web gear starts beside it; scaled once the database publishes on its node's
    // address, its replicas spread over the nodes.
    const created = await p.api('POST', `${apps}?wait=600`, { name: 'shop', cartridges: ['static', 'postgresql-15'] });
    assert.equal(created.body.operation?.state, 'succeeded', `${JSON.stringify(created.body.operation ?? created.body)}\n${l.nodeLogs()}`);
    const scaled = await p.api('PUT', `${apps}/shop/scale?wait=600`, { replicas: NODES });
    assert.equal(scaled.body.operation?.state, 'succeeded', `${JSON.stringify(scaled.body.operation ?? scaled.body)}\n${l.nodeLogs()}`);
    const gears = scaled.body.gears as GearView[];
    const web = gears.filter((g) => g.cartridge === 'static');
    const db = gears.find((g) => g.cartridge === 'postgresql-15')!;
    assert.equal(web.length, NODES);
    assert.equal(new Set(web.map((g) => g.node)).size, NODES, 'one replica on each node');
    // The node of the database holds a replica too: its replica moves, its database stays.
    const victim = db.node;
    const moving = web.find((g) => g.node === victim)!;
    await eventually('the router to serve the app', async () => (await p.viaRouter('shop-tide.localhost')).status === 200, 60_000, 250);

    // 40 requests a second through the router, each on its own, as clients send them.
    const traffic = routerTraffic(p, 'shop-tide.localhost', 40);
    let tally: TrafficTally;
    let drained: { status: number; body: { kind: string; state: string; error: string | null; steps: { text: string }[] } };
    const t0 = Date.now();
    try {
      await new Promise((r) => setTimeout(r, 2000));
      drained = await p.api('POST', `/nodes/${victim}/drain?wait=600`);
      await new Promise((r) => setTimeout(r, 2000));
    } finally {
      tally = await traffic.stop();
    }
    const { sent, failures } = tally;
    const texts = drained.body.steps.map((s) => s.text);
    console.log(
      `node ${victim} drained under load in ${((Date.now() - t0) / 1000 - 4).toFixed(1)} s: ${failures.length} of ${sent} requests failed\n  ${texts.join('\n  ')}`,
    );
    assert.equal(drained.status, 202, JSON.stringify(drained.body));
    assert.equal(drained.body.kind, 'node.drain');
    assert.equal(drained.body.state, 'succeeded', `${drained.body.error}\n${texts.join('\n')}\n${l.nodeLogs()}`);
    assert.ok(sent >= 150, `sent ${sent} requests`);
    assert.deepEqual(failures, [], `${failures.length} of ${sent} requests failed`);
    assert.ok(
      texts.includes(
        'app shop: 1 gear(s) stay (postgresql-15): a service keeps its data on the node; take a snapshot and restore it on another node to move it',
      ),
      texts.join('\n'),
    );
    assert.ok(
      texts.some((t) => new RegExp(`^app shop: 1 gear\\(s\\) moved off ${victim} \\(operation `).test(t)),
      texts.join('\n'),
    );
    assert.equal(texts.at(-1), `node ${victim} drained: 1 gear(s) left on it, 1 of which cannot move`);

    // The replica runs elsewhere, still one on each of the other nodes' share; the database has not moved.
    const after = await gearsOf('shop');
    const webAfter = after.filter((g) => g.cartridge === 'static');
    assert.equal(webAfter.length, NODES);
    assert.ok(!webAfter.some((g) => g.node === victim || g.id === moving.id), JSON.stringify(after));
    assert.ok(
      webAfter.every((g) => g.state === 'running'),
      JSON.stringify(after),
    );
    assert.equal(after.find((g) => g.cartridge === 'postgresql-15')?.node, victim);
    // On the drained node itself, the database's container is the app's only one.
    await eventually(
      "the drained node to run the app's database only",
      async () => JSON.stringify(containersOn(victim, 'shop')) === JSON.stringify([db.id]),
      30_000,
      250,
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(containersOn(victim, 'shop'))}\n${l.nodeLogs()}`);
    });
    assert.equal((await p.viaRouter('shop-tide.localhost')).status, 200);

    // Undrained, the node takes gears again.
    const activated = await p.api('POST', `/nodes/${victim}/activate`);
    assert.equal(activated.status, 200, JSON.stringify(activated.body));
    assert.equal(activated.body.state, 'active');
  });
});
