import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { eventually, Platform } from './support/platform';

/** Web gears of a stateless app spread over the nodes; the router balances across all of them. */
describe('placement across nodes', { timeout: 600_000 }, () => {
  let p: Platform;
  const apps = '/domains/wide/apps';

  before(async () => {
    p = await Platform.start('spread', { node1: {}, node2: {} }, { router: true });
    assert.equal((await p.api('POST', '/domains', { name: 'wide' })).status, 201);
  });
  after(async () => {
    await p?.stop();
  });

  const nodesOf = (app: { gears: { cartridge: string; node: string }[] }, cartridge: string) =>
    app.gears.filter((g) => g.cartridge === cartridge).map((g) => g.node).sort();

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
    await eventually('the router to balance over all four gears', async () => {
      const r = await p.viaRouter('fleet-wide.localhost', '/', agent);
      if (r.status === 200) seen.add(JSON.parse(r.body).gear);
      return seen.size === 4;
    }, 30_000, 20);
    agent.destroy();
  });

  it('keeps an app with a database on one node, where its gears share a network', async () => {
    const created = await p.api('POST', `${apps}?wait=180`, { name: 'store', cartridges: ['nodejs-18', 'postgresql-15'], scale: 2 });
    assert.equal(created.body.operation.state, 'succeeded', created.body.operation.error);
    assert.equal(new Set(created.body.gears.map((g: { node: string }) => g.node)).size, 1);
  });
});
