import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { App } from '../../apps/broker/src/apps/app.entity';
import { AppCartridge } from '../../apps/broker/src/apps/app-cartridge.entity';
import { Gear } from '../../apps/broker/src/apps/gear.entity';
import { AppsRepository } from '../../apps/broker/src/apps/apps.repository';
import { Node } from '../../apps/broker/src/fleet/node.entity';
import { NodesRepository } from '../../apps/broker/src/fleet/nodes.repository';
import { entityRows } from '../../apps/broker/src/database/entity-rows';
import { mediumDb, type MediumDb } from './support';

/** The hot reads in plain SQL give the entities TypeORM's own find gives: every column, sealed values opened. */
describe('entities read in plain SQL against Postgres', () => {
  let db: MediumDb;

  before(async () => {
    db = await mediumDb('entity_rows');
  });
  after(() => db?.close());

  it('reads an app, its cartridges and gears, and the nodes as a find does', async () => {
    const m = db.dataSource.manager;
    const made = await db.addApp('rows', [{}, {}]);
    await m.update(App, made.id, { env: { SECRET: 'kept sealed at rest' }, autoscaleMin: 1, autoscaleMax: 3 });
    const app = (await new AppsRepository(m).findById(made.id))!;
    // The find leaves the relations undefined; the repository gives them: the app's own columns are compared.
    const own = (a: App) => Object.fromEntries(Object.entries(a).filter(([k]) => k !== 'cartridges' && k !== 'gears'));
    assert.deepEqual(own(app), own(await m.findOneByOrFail(App, { id: made.id })));
    assert.equal(app.env.SECRET, 'kept sealed at rest');
    assert.deepEqual(
      app.cartridges!.map((c) => ({ ...c })),
      (await m.find(AppCartridge, { where: { appId: made.id }, order: { createdAt: 'ASC' } })).map((c) => ({ ...c })),
    );
    assert.deepEqual(
      app.gears!.map((g) => ({ ...g })),
      (await m.find(Gear, { where: { appId: made.id }, order: { createdAt: 'ASC' } })).map((g) => ({ ...g })),
    );
    assert.ok(app.gears!.every((g) => g instanceof Gear));
    assert.deepEqual(
      (await new NodesRepository(m).all()).map((n) => ({ ...n })),
      (await m.find(Node, { order: { createdAt: 'ASC' } })).map((n) => ({ ...n })),
    );
  });

  it("leaves out what a find leaves out: a node's key, public key and Redis password hash", () => {
    const fields = entityRows(db.dataSource.manager, Node, 'n').fields.split(', ');
    for (const hidden of ['n.key_hash', 'n.public_key', 'n.redis_password_hash']) assert.ok(!fields.includes(hidden), hidden);
    assert.ok(fields.includes('n.memory_mb'));
    assert.ok(entityRows(db.dataSource.manager, Gear, 'g').fields.split(', ').includes('g.app_id'), 'a join column with a property of its own is read');
  });
});
