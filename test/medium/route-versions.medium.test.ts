import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppsRepository } from '../../apps/broker/src/apps/apps.repository';
import type { App } from '../../apps/broker/src/apps/app.entity';
import { mediumDb, type MediumDb } from './support';

/**
 * The route table builds an app's routes again only when its route version moves: every change a route shows (a
 * gear's state, ports or node, the node's address or loss, the app's state, its cartridges, its latest deployment)
 * moves the version of that app, and of no other; nothing else does (a build log's lines, a heartbeat, a report stored
 * again). What a node should run has a version of its own, which what the nodes report of their gears leaves alone. Postgres keeps the versions with triggers, whichever statement writes.
 */
describe('route versions against Postgres', () => {
  let db: MediumDb;
  let apps: AppsRepository;
  let routed: App;
  let other: App;

  before(async () => {
    db = await mediumDb('route_versions');
    apps = new AppsRepository(db.dataSource.manager);
    routed = await db.addApp('routed', [{}, {}]);
    other = await db.addApp('other', [{}]);
  });
  after(() => db?.close());

  /** Runs `change`, then says whether the routed app's version moved, and checks the other app's did not. */
  const changes = async (change: () => Promise<unknown>): Promise<boolean> => {
    const before = await apps.routeVersions();
    await change();
    const after = await apps.routeVersions();
    assert.equal(after.get(other.id), before.get(other.id), "the other app's version stays");
    return after.get(routed.id) !== before.get(routed.id);
  };
  const q = (sql: string, params: unknown[] = []) => db.dataSource.manager.query(sql, params);
  const gear = () => routed.gears![0].id;

  it('gives every app a version, the same while nothing changes', async () => {
    const versions = await apps.routeVersions();
    assert.ok(versions.get(routed.id) && versions.get(other.id));
    assert.notEqual(versions.get(routed.id), versions.get(other.id));
    assert.equal(await changes(async () => undefined), false);
    // A write that changes nothing a route shows, of every gear at once (as a node's report does).
    assert.equal(await changes(() => q('update gears set updated_at = now() where app_id = $1', [routed.id])), false);
    assert.equal(await changes(() => q('update nodes set last_heartbeat = now()')), false);
  });

  it("changes with a gear's state, container, message, ports and where it runs inside its node", async () => {
    assert.equal(await changes(() => q('update gears set message = $2, container_id = $3 where id = $1', [gear(), 'a message', 'c1'])), true);
    assert.equal(await changes(() => q(`update gears set state = 'running' where id = $1`, [gear()])), true);
    assert.equal(await changes(() => q(`update gears set ports = '{"http": 31000}' where id = $1`, [gear()])), true);
    assert.equal(await changes(() => q(`update gears set inside = '{"address": "10.0.0.2", "ports": {"http": 8080}}' where id = $1`, [gear()])), true);
  });

  it("changes with its gear's node: moved, or the node's address or loss", async () => {
    const second = await db.addNode('second');
    assert.equal(await changes(() => q('update gears set node_id = $2 where id = $1', [gear(), second.id])), true);
    assert.equal(await changes(() => q('update nodes set address = $2 where id = $1', [second.id, '10.1.2.3'])), true);
    assert.equal(await changes(() => q('update nodes set lost_at = now() where id = $1', [second.id])), true);
  });

  it("changes with the app's state, its cartridges, and its latest deployment", async () => {
    assert.equal(await changes(() => q(`update apps set desired_state = 'stopped' where id = $1`, [routed.id])), true);
    assert.equal(await changes(() => q(`update app_cartridges set options = '{"port": 9000}' where app_id = $1`, [routed.id])), true);
    assert.equal(
      await changes(() =>
        q(`insert into deployments (app_id, number, state, source, error) values ($1, 1, 'failed', '{"kind": "git"}', 'the build failed')`, [routed.id]),
      ),
      true,
    );
    // Its build log growing is not a change of routes; its state is.
    assert.equal(await changes(() => q(`update deployments set log = log || 'a line' where app_id = $1`, [routed.id])), false);
    assert.equal(await changes(() => q(`update deployments set state = 'active', error = null where app_id = $1`, [routed.id])), true);
  });

  it('moves for a statement that changes many gears of the app, and for that app alone', async () => {
    const before = await apps.routeVersions();
    await q(`update gears set state = 'stopped' where app_id = $1`, [routed.id]);
    const after = await apps.routeVersions();
    assert.notEqual(after.get(routed.id), before.get(routed.id));
    assert.equal(after.get(other.id), before.get(other.id));
  });

  it('moves the desired version with what a node should run, not with what the nodes report', async () => {
    const desired = async () => (await apps.desiredOnNode(db.node.id)).find((d) => d.appId === routed.id)?.desired;
    const moves = async (change: () => Promise<unknown>) => {
      const before = await desired();
      await change();
      return (await desired()) !== before;
    };
    assert.equal(await moves(() => q(`update gears set state = 'failed', message = 'gone', container_id = 'c9' where app_id = $1`, [routed.id])), false);
    assert.equal(await moves(() => q('update gears set generation = generation + 1 where id = $1', [gear()])), true);
    assert.equal(await moves(() => q(`update apps set env = '{"A": "1"}' where id = $1`, [routed.id])), true);
    assert.equal(await moves(() => q(`update app_cartridges set generated = '{"PASSWORD": "x"}' where app_id = $1`, [routed.id])), true);
  });

  it('leaves out an app that is gone', async () => {
    await apps.delete(other.id);
    assert.equal((await apps.routeVersions()).has(other.id), false);
  });
});
