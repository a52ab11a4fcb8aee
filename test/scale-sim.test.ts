import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { simulate, type Simulation } from '../bench/scale';

/**
 * The scale simulation, small: 10 simulated nodes (the real agent code on an in-memory Docker) in 2 zones, 50 apps of
 * 10 replicas. Correctness, not speed: every gear is placed once and runs on the node the broker placed it on, and
 * each app's replicas spread over the zones, then the nodes.
 */
describe('the scale simulation', { timeout: 600_000 }, () => {
  let sim: Simulation;
  const NODES = 10;
  const APPS = 50;
  const REPLICAS = 10;

  before(async () => {
    sim = await simulate({ nodes: NODES, zones: 2, apps: APPS, replicas: REPLICAS, heartbeatMs: 1000 });
  });
  after(async () => {
    await sim?.stop();
  });

  it('places every gear once, on the node that runs it', async () => {
    const nodeIds = new Map<string, string>(
      (await sim.p.api('GET', '/nodes')).body.map((n: { id: string; name: string }) => [n.id, n.name] as [string, string]),
    );
    const runsOn = new Map<string, string[]>();
    for (const n of sim.nodes) {
      for (const c of n.docker.containers.values()) {
        const gear = c.labels['gearshift.gear'];
        runsOn.set(gear, [...(runsOn.get(gear) ?? []), n.name]);
        assert.equal(nodeIds.get(c.labels['gearshift.node']), n.name, 'a container carries the node it runs on');
      }
    }
    let gears = 0;
    for (let i = 0; i < APPS; i++) {
      const app = (await sim.p.api('GET', `/domains/sim/apps/app${i}`)).body;
      for (const g of app.gears as { id: string; node: string; state: string }[]) {
        gears++;
        assert.deepEqual(runsOn.get(g.id), [g.node], `gear ${g.id} of app-${i} runs once, where it was placed`);
      }
    }
    assert.equal(gears, APPS * REPLICAS);
    assert.equal(runsOn.size, APPS * REPLICAS, 'no container runs a gear the broker does not know');
  });

  it("spreads each app's replicas over the zones first, then over the nodes", async () => {
    const zoneOf = new Map(sim.nodes.map((n) => [n.name, n.zone]));
    for (let i = 0; i < APPS; i++) {
      const app = (await sim.p.api('GET', `/domains/sim/apps/app${i}`)).body;
      const perZone = new Map<string, number>();
      const perNode = new Map<string, number>();
      for (const g of app.gears as { node: string }[]) {
        perZone.set(zoneOf.get(g.node)!, (perZone.get(zoneOf.get(g.node)!) ?? 0) + 1);
        perNode.set(g.node, (perNode.get(g.node) ?? 0) + 1);
      }
      assert.deepEqual([...perZone.values()], [REPLICAS / 2, REPLICAS / 2], `app-${i}: ${JSON.stringify([...perZone])}`);
      assert.equal(perNode.size, NODES, `app-${i}: one replica on each node`);
    }
  });

  it('records in the operation which nodes each placement considered, and why: every node for the first few, then counts', async () => {
    const ops = (await sim.p.api('GET', '/domains/sim/apps/app0/operations')).body;
    const create = (ops.operations ?? ops).find((o: { kind: string }) => o.kind === 'app.create');
    type Step = { considered?: { chosen: boolean; reason: string }[]; passedOver?: Record<string, number> };
    const placements: Step[] = create.steps.filter((s: Step) => s.considered);
    assert.equal(placements.length, REPLICAS);
    placements.forEach((s, i) => {
      assert.equal(s.considered!.filter((v) => v.chosen).length, 1, `placement ${i} names the chosen node`);
      if (i < 3) assert.equal(s.considered!.length, NODES, `placement ${i} names every node`);
      else {
        assert.equal(s.considered!.length, 1, `placement ${i} names only the chosen node`);
        const counted = Object.values(s.passedOver ?? {}).reduce((a, b) => a + b, 0);
        assert.equal(counted, NODES - 1, `placement ${i} counts the others by why: ${JSON.stringify(s.passedOver)}`);
      }
    });
    // A counted placement is a fraction of a full one, and stays that size however many nodes there are.
    const size = (x: Step) => JSON.stringify(x).length;
    assert.ok(size(placements[3]) * 2 < size(placements[0]), `a counted placement ${size(placements[3])}, a full one ${size(placements[0])} characters`);
  });
});
