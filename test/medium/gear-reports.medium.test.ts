import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppsRepository } from '../../apps/broker/src/apps/apps.repository';
import { mediumDb, type MediumDb } from './support';

/** A node's report of its gears is stored in one statement: each gear it holds takes its last report; others stay. */
describe('gear reports against Postgres', () => {
  let db: MediumDb;
  let apps: AppsRepository;

  before(async () => {
    db = await mediumDb('gear_reports');
    apps = new AppsRepository(db.dataSource.manager);
  });
  after(() => db?.close());

  it("stores each reported gear's last report, and ignores a gear that is on another node", async () => {
    const second = await db.addNode('elsewhere');
    const app = await db.addApp('reported', [{}, {}, { nodeId: second.id }]);
    const [a, b, moved] = app.gears!.map((g) => g.id);
    await apps.recordGearReports(db.node.id, [
      { gearId: a, appId: app.id, state: 'starting', ports: {} },
      { gearId: b, appId: app.id, state: 'failed', ports: {}, message: 'it exited with code 1' },
      { gearId: moved, appId: app.id, state: 'running', ports: { http: 31001 } },
      { gearId: a, appId: app.id, state: 'running', ports: { http: 31000 }, containerId: 'c-a', inside: { address: '10.0.0.2', ports: { http: 8080 } } },
    ]);
    const gears = new Map(((await apps.findById(app.id))?.gears ?? []).map((g) => [g.id, g]));
    assert.deepEqual(
      { state: gears.get(a)!.state, ports: gears.get(a)!.ports, containerId: gears.get(a)!.containerId, inside: gears.get(a)!.inside },
      { state: 'running', ports: { http: 31000 }, containerId: 'c-a', inside: { address: '10.0.0.2', ports: { http: 8080 } } },
    );
    assert.equal(gears.get(b)!.state, 'failed');
    assert.equal(gears.get(b)!.message, 'it exited with code 1');
    assert.equal(gears.get(moved)!.state, 'starting', 'a gear on another node keeps its state');
    assert.deepEqual(gears.get(moved)!.ports, {});
    assert.ok(gears.get(a)!.updatedAt.getTime() >= gears.get(moved)!.updatedAt.getTime());
  });
});
