import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppsRepository } from '../../apps/broker/src/apps/apps.repository';
import type { App } from '../../apps/broker/src/apps/app.entity';
import { mediumDb, type MediumDb } from './support';

/**
 * The route table builds an app's routes again only when its digest changes: every change a route shows (a gear's
 * state, ports or node, the node's address or loss, the app's state, its cartridges, its latest deployment) changes
 * the digest of that app, and of no other; nothing else does.
 */
describe('route digests against Postgres', () => {
  let db: MediumDb;
  let apps: AppsRepository;
  let routed: App;
  let other: App;

  before(async () => {
    db = await mediumDb('route_digests');
    apps = new AppsRepository(db.dataSource.manager);
    routed = await db.addApp('routed', [{}, {}]);
    other = await db.addApp('other', [{}]);
  });
  after(() => db?.close());

  /** Runs `change`, then says whether the routed app's digest changed, and checks the other app's did not. */
  const changes = async (change: () => Promise<unknown>): Promise<boolean> => {
    const before = await apps.routeDigests();
    await change();
    const after = await apps.routeDigests();
    assert.equal(after.get(other.id), before.get(other.id), "the other app's digest stays");
    return after.get(routed.id) !== before.get(routed.id);
  };
  const q = (sql: string, params: unknown[] = []) => db.dataSource.manager.query(sql, params);
  const gear = () => routed.gears![0].id;

  it('gives every app a digest, the same while nothing changes', async () => {
    const digests = await apps.routeDigests();
    assert.ok(digests.get(routed.id) && digests.get(other.id));
    assert.notEqual(digests.get(routed.id), digests.get(other.id));
    assert.equal(await changes(async () => undefined), false);
    assert.equal(await changes(() => q('update gears set message = $2, container_id = $3 where id = $1', [gear(), 'a message', 'c1'])), false);
  });

  it("changes with a gear's state, ports and where it runs inside its node", async () => {
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
  });

  it('leaves out an app that is gone', async () => {
    await apps.delete(other.id);
    assert.equal((await apps.routeDigests()).has(other.id), false);
  });
});
