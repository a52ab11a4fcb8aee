import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { docker, eventually, getJson, hostAddress, Platform } from './support/platform';

/**
 * Web gears spread over the nodes; the router balances across all of them, and gears on another node than the app's
 * services reach them at the port the services' node publishes. The two nodes publish on this host's own address,
 * as two hosts would on theirs.
 */
describe('placement across nodes', { timeout: 600_000 }, () => {
  let p: Platform;
  const apps = '/domains/wide/apps';
  const address = hostAddress();

  before(async () => {
    p = await Platform.start('spread', { node1: { address }, node2: { address } }, { router: true });
    assert.equal((await p.api('POST', '/domains', { name: 'wide' })).status, 201);
  });
  after(async () => {
    await p?.stop();
  });

  const nodesOf = (app: { gears: { cartridge: string; node: string }[] }, cartridge: string) =>
    app.gears
      .filter((g) => g.cartridge === cartridge)
      .map((g) => g.node)
      .sort();

  it('places the web gears of a web-only app on different nodes, and keeps doing so when it scales', async () => {
    const created = await p.api('POST', `${apps}?wait=180`, { name: 'fleet', cartridges: ['nodejs-18'], scale: 2 });
    assert.equal(created.body.operation.state, 'succeeded', created.body.operation.error);
    assert.deepEqual(nodesOf(created.body, 'nodejs-18'), [p.nodeName('node1'), p.nodeName('node2')].sort());
    const scaled = await p.api('PUT', `${apps}/fleet/scale?wait=180`, { replicas: 4 });
    assert.equal(scaled.body.operation.state, 'succeeded', scaled.body.operation.error);
    const nodes = nodesOf(scaled.body, 'nodejs-18');
    assert.equal(nodes.filter((n) => n === p.nodeName('node1')).length, 2);
    assert.equal(nodes.filter((n) => n === p.nodeName('node2')).length, 2);

    const agent = new Agent({ keepAlive: true });
    const seen = new Set<string>();
    await eventually(
      'the router to balance over all four gears',
      async () => {
        const r = await p.viaRouter('fleet-wide.localhost', '/', agent);
        if (r.status === 200) seen.add(JSON.parse(r.body).gear);
        return seen.size === 4;
      },
      30_000,
      20,
    ).catch(async (err) => {
      throw new Error(`${err.message} (saw ${[...seen].join(', ')})\n${await p.routingState(`${apps}/fleet`)}`);
    });
    agent.destroy();
  });

  it('starts an app with a database on one node, then spreads its web gears, which reach the database across nodes', async () => {
    const created = await p.api('POST', `${apps}?wait=180`, { name: 'store', cartridges: ['nodejs-18', 'postgresql-15'], scale: 2 });
    assert.equal(created.body.operation.state, 'succeeded', created.body.operation.error);
    assert.equal(new Set(created.body.gears.map((g: { node: string }) => g.node)).size, 1, 'the database has no published port yet');
    const home = created.body.gears[0].node;
    const scaled = await p.api('PUT', `${apps}/store/scale?wait=180`, { replicas: 3 });
    assert.equal(scaled.body.operation.state, 'succeeded', scaled.body.operation.error);
    const webs = scaled.body.gears.filter((g: { cartridge: string }) => g.cartridge === 'nodejs-18');
    const away = webs.filter((g: { node: string }) => g.node !== home);
    assert.equal(away.length, 1, 'the third web gear goes to the node without one');

    // Its DATABASE_URL names the database node's address and published port; the gears beside it use the alias.
    const db = scaled.body.gears.find((g: { cartridge: string }) => g.cartridge === 'postgresql-15');
    const envOf = async (gearId: string) => {
      const [c] = await p.containers({ 'gearshift.gear': gearId });
      return (await docker.getContainer(c.Id).inspect()).Config.Env.find((e: string) => e.startsWith('DATABASE_URL='))!;
    };
    const published = (await p.containers({ 'gearshift.gear': db.id }))[0].Ports.find((x) => x.PrivatePort === 5432)!.PublicPort;
    assert.match(await envOf(away[0].id), new RegExp(`@${address.replace(/\./g, '\\.')}:${published}/`));
    assert.match(await envOf(webs.find((g: { node: string }) => g.node === home).id), /@postgresql-15:5432\//);

    // A row written through the gear on the other node is read back through it.
    for (const g of webs) {
      const r = await getJson(`${g.endpoints.http}/selftest`);
      assert.equal(r?.body.postgresql?.read, r?.body.postgresql?.wrote, JSON.stringify(r?.body));
      assert.ok(r?.body.postgresql?.wrote);
    }
  });
});
