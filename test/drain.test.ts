import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, hostAddress, Platform } from './support/platform';
import { routerTraffic, type TrafficTally } from './support/traffic';

/**
 * Draining a node under load: two agents on this host (each publishing on the host's own address, as two hosts
 * would on theirs), a router in front, about 20 requests a second through it while the drain moves the gears.
 */
describe('draining a node', { timeout: 600_000 }, () => {
  let p: Platform;
  const apps = '/domains/tide/apps';
  const address = hostAddress();

  before(async () => {
    // One case holds an agent still (SIGSTOP) until the drain's move is under way, which on a loaded machine takes
    // longer than the tests' usual allowance of silence: a node declared lost then would fail the move it waits for.
    // Nothing here is about losing nodes (test/node-loss.test.ts is).
    p = await Platform.start('drain', { node1: { address }, node2: { address } }, { router: true, env: { GEARSHIFT_HEARTBEAT_TIMEOUT_MS: '60000' } });
    assert.equal((await p.api('POST', '/domains', { name: 'tide' })).status, 201);
  });
  after(async () => {
    await p?.stop();
  });

  const nodeOf = async (name: string) => (await p.api('GET', '/nodes')).body.find((n: { name: string }) => n.name === name);

  it('sets zones and labels, which spread an app over the zones and are explained in its operation', async () => {
    for (const [agent, zone] of [
      ['node1', 'east'],
      ['node2', 'west'],
    ]) {
      const r = await p.api('PATCH', `/nodes/${p.nodeName(agent)}`, { zone, labels: { disk: 'ssd' } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.zone, zone);
      assert.deepEqual(r.body.labels, { disk: 'ssd' });
    }
    const bad = await p.api('PATCH', `/nodes/${p.nodeName('node1')}`, { zone: 'Not A Zone' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.details[0].pointer, '/zone');

    const created = await p.api('POST', `${apps}?wait=180`, { name: 'steady', cartridges: ['nodejs-18'], scale: 2 });
    assert.equal(created.body.operation.state, 'succeeded', created.body.operation.error);
    const nodes = created.body.gears.map((g: { node: string }) => g.node).sort();
    assert.deepEqual(nodes, [p.nodeName('node1'), p.nodeName('node2')].sort(), 'one replica per zone');
    const placements = created.body.operation.steps.filter((s: { considered?: unknown[] }) => s.considered);
    assert.equal(placements.length, 2, JSON.stringify(created.body.operation.steps));
    assert.equal(placements[0].considered.length, 2, 'both nodes were considered');
    assert.match(placements[1].text, /^placed 1 gear needing \d+ MB on .* \(zone (east|west)\)/);
    const second = placements[1].considered;
    assert.equal(second.filter((v: { chosen: boolean }) => v.chosen).length, 1);
    assert.match(second.find((v: { chosen: boolean }) => !v.chosen).reason, /zone (east|west) holds 1 of the app's replicas, zone (east|west) 0/);
  });

  it('moves every gear off a drained node with no failed request, and the node takes gears again once activated', async () => {
    const host = 'steady-tide.localhost';
    await eventually('the router to serve the app', async () => (await p.viaRouter(host, '/')).status === 200, 30_000, 100);
    const traffic = routerTraffic(p, host, 20, 5000);
    let tally: TrafficTally;
    try {
      await new Promise((r) => setTimeout(r, 2000));
      const drained = await p.api('POST', `/nodes/${p.nodeName('node1')}/drain?wait=300`);
      assert.equal(drained.status, 202, JSON.stringify(drained.body));
      assert.equal(drained.body.kind, 'node.drain');
      assert.equal(drained.body.state, 'succeeded', `${drained.body.error}\n${JSON.stringify(drained.body.steps, null, 1)}`);
      const texts: string[] = drained.body.steps.map((s: { text: string }) => s.text);
      assert.ok(
        texts.some((t) => /app steady: 1 gear\(s\) moved off/.test(t)),
        texts.join('\n'),
      );
      const placement = drained.body.steps.find((s: { considered?: unknown[] }) => s.considered);
      assert.ok(placement, 'the drain tells where the new gear went and why');
      assert.match(placement.considered.find((v: { node: string }) => v.node === p.nodeName('node1')).reason, /is draining/);
      await new Promise((r) => setTimeout(r, 2000));
    } finally {
      tally = await traffic.stop();
    }
    const { sent, failures } = tally;
    assert.ok(sent >= 60, `sent ${sent} requests`);
    assert.deepEqual(failures, [], `${failures.length} of ${sent} requests failed`);

    const app = (await p.api('GET', `${apps}/steady`)).body;
    assert.deepEqual(
      app.gears.map((g: { node: string }) => g.node),
      [p.nodeName('node2'), p.nodeName('node2')],
    );
    const node1 = await nodeOf(p.nodeName('node1'));
    assert.equal(node1.state, 'draining');
    assert.equal(node1.allocated.gears, 0);
    await eventually(
      'the drained node to run no container of the app',
      async () => (await p.containers({ 'gearshift.node': node1.id })).length === 0,
      30_000,
      200,
    );
    const node2 = await nodeOf(p.nodeName('node2'));
    assert.equal((await p.containers({ 'gearshift.node': node2.id })).length, 2, 'the old gears are gone, the new ones run');

    const activated = await p.api('POST', `/nodes/${p.nodeName('node1')}/activate`);
    assert.equal(activated.status, 200);
    assert.equal(activated.body.state, 'active');
    const scaled = await p.api('PUT', `${apps}/steady/scale?wait=180`, { replicas: 3 });
    assert.equal(scaled.body.operation.state, 'succeeded', scaled.body.operation.error);
    assert.ok(
      scaled.body.gears.some((g: { node: string }) => g.node === p.nodeName('node1')),
      'the active node takes the new replica',
    );
  });

  it('finishes a drain whose broker is killed during it: the broker started again drives it on', async () => {
    const node1 = p.nodeName('node1');
    const before = (await p.api('GET', `${apps}/steady`)).body.gears as { id: string; node: string }[];
    assert.ok(
      before.some((g) => g.node === node1),
      'the node holds a replica again',
    );
    const node2 = p.agents.get('node2')!.child;
    let drainId = '';
    // The node the new gear starts on holds still for a moment, so that the broker dies with the move under way.
    node2.kill('SIGSTOP');
    try {
      const begun = await p.api('POST', `/nodes/${node1}/drain`);
      assert.equal(begun.status, 202, JSON.stringify(begun.body));
      drainId = begun.body.id;
      await eventually(
        "the drain to begin the app's move",
        async () =>
          ((await p.api('GET', `${apps}/steady/operations`)).body as { kind: string; state: string }[]).some(
            (o) => o.kind === 'app.move' && (o.state === 'queued' || o.state === 'running'),
          ),
        20_000,
        100,
      );
      await p.stopBroker('SIGKILL');
    } finally {
      node2.kill('SIGCONT');
    }
    const t0 = Date.now();
    await p.startBroker();
    const drained = await p.api('GET', `/operations/${drainId}?wait=120`);
    const texts: string[] = drained.body.steps.map((s: { text: string }) => s.text);
    assert.equal(drained.body.state, 'succeeded', `${drained.body.error}\n${texts.join('\n')}\n${p.logs()}`);
    console.log(`drain resumed by the restarted broker, ended ${((Date.now() - t0) / 1000).toFixed(1)} s after its start:\n  ${texts.join('\n  ')}`);
    assert.ok(
      texts.some((t) => /^broker \S+ drives the operation on: the broker that drove it stopped$/.test(t)),
      texts.join('\n'),
    );
    assert.ok(
      texts.some((t) => /^app steady: the move begun before \(operation \S+\) ended succeeded$/.test(t)),
      texts.join('\n'),
    );
    assert.equal(texts.at(-1), `node ${node1} drained: 0 gear(s) left on it`);
    const after = (await p.api('GET', `${apps}/steady`)).body.gears as { id: string; node: string }[];
    assert.equal(after.length, 3);
    assert.ok(!after.some((g) => g.node === node1), JSON.stringify(after));
    const id1 = (await nodeOf(node1)).id;
    await eventually('the drained node to run no container of the app', async () => (await p.containers({ 'gearshift.node': id1 })).length === 0, 30_000, 200);
    assert.equal((await p.api('POST', `/nodes/${node1}/activate`)).status, 200);
  });

  it('names an unknown node', async () => {
    assert.equal((await p.api('POST', '/nodes/no-such-node/drain')).status, 404);
    assert.equal((await p.api('POST', '/nodes/no-such-node/activate')).status, 404);
  });
});
