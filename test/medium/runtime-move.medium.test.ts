import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OperationsService } from '../../apps/broker/src/operations/operations.service';
import { OperationsRepository } from '../../apps/broker/src/operations/operations.repository';
import { newContext } from '../../apps/broker/src/operations/contexts';
import { AppsRepository } from '../../apps/broker/src/apps/apps.repository';
import { ConfigRolloutService } from '../../apps/broker/src/lifecycle/config-rollout.service';
import type { AppGears } from '../../apps/broker/src/lifecycle/app-gears.service';
import type { OperationReport } from '../../apps/broker/src/operations/report';
import type { GearSpec } from '@gearshift/cartridges';
import { mediumDb, type MediumDb } from './support';

/**
 * A web cartridge moving to another version of its runtime (nodejs-18 → nodejs-24 in gearshift.yml) rolls out like any
 * health-gated change: the old gears keep running exactly as they were while the new ones start, and stay if the
 * new ones never get healthy.
 */
describe('runtime moves behind the health gate, against Postgres', () => {
  let db: MediumDb;
  let ops: OperationsService;
  let operations: OperationsRepository;
  let apps: AppsRepository;

  before(async () => {
    db = await mediumDb('runtime-move');
    ops = db.operationsService();
    // Retire and rollback need nothing of AppGears (the app's environment is not part of a runtime move).
    new ConfigRolloutService(ops, {} as AppGears, db.specs, db.uow).onModuleInit();
    operations = new OperationsRepository(db.dataSource.manager);
    apps = new AppsRepository(db.dataSource.manager);
  });
  after(() => db?.close());

  /** An app on two gears of one Node.js cartridge, moved to another with two fresh gears beside them (the surge). */
  async function moving(name: string) {
    const app0 = await db.addApp(name, [{}, {}]);
    const from = app0.cartridges![0].cartridge;
    const to = [...db.catalog.cartridges.keys()].find((c) => c.startsWith('nodejs-') && c !== from)!;
    const before = await db.specs.specs(app0);
    const old = app0.gears!.map((g) => g.id).sort();
    await apps.replaceCartridge(app0.id, from, { cartridge: to, generated: {} });
    await apps.addGears(
      app0.id,
      [1, 2].map(() => ({ cartridge: to, nodeId: db.node.id, memoryMb: 256 })),
    );
    const app = (await apps.findById(app0.id))!;
    const fresh = app.gears!.filter((g) => !old.includes(g.id)).map((g) => g.id);
    const op = await db.transaction((repos) =>
      ops.create(
        repos,
        'app.apply',
        app.id,
        db.user,
        [{ nodeId: db.node.id, job: 'app.converge' }],
        `apply ${name}: change web cartridge`,
        newContext('app.apply', { stage: 'surge', rollout: { fresh, old, renamed: { from, to } } }),
      ),
    );
    return { app, op, from, to, before, old, fresh };
  }

  const report = (operationId: string, appId: string, patch: Partial<OperationReport>): OperationReport => ({
    operationId,
    nodeId: db.node.id,
    appId,
    phase: 'succeeded',
    at: Date.now(),
    gears: [],
    ...patch,
  });

  it('starts the new gears under the new runtime while the old ones keep exactly their specs', async () => {
    const { op, from, to, before, old, fresh } = await moving('surge');
    db.queue.sent.length = 0;
    await ops.dispatch(op);
    const gears = (db.queue.sent[0].data as { gears: GearSpec[] }).gears;
    assert.deepEqual(
      gears.filter((g) => old.includes(g.gearId)),
      before.filter((s) => old.includes(s.gearId)),
      'the old gears are not replaced',
    );
    assert.deepEqual(
      gears.filter((g) => fresh.includes(g.gearId)).map((g) => g.cartridge),
      [to, to],
    );
    assert.notEqual(from, to);
  });

  it('retires the old gears once the new ones are healthy', async () => {
    const { app, op, to, fresh } = await moving('healthy');
    await ops.handleReport(report(op.id, app.id, {}));
    const now = (await operations.findById(op.id))!;
    assert.deepEqual([now.state, now.context.stage], ['running', 'retire']);
    const after = (await apps.findById(app.id))!;
    assert.deepEqual(
      after.cartridges!.map((c) => c.cartridge),
      [to],
    );
    assert.deepEqual(after.gears!.map((g) => g.id).sort(), [...fresh].sort());
  });

  it('rolls back new gears that never get healthy: the old runtime keeps serving, the operation fails', async () => {
    const { app, op, from, to, before, old } = await moving('unhealthy');
    await ops.handleReport(report(op.id, app.id, { phase: 'failed', error: 'health check failed' }));
    const now = (await operations.findById(op.id))!;
    assert.deepEqual([now.context.stage, now.error], ['rollback', `moving the web gears from ${from} to ${to} was rolled back: health check failed`]);
    const back = (await apps.findById(app.id))!;
    assert.deepEqual(
      back.cartridges!.map((c) => c.cartridge),
      [from],
    );
    assert.deepEqual(back.gears!.map((g) => g.id).sort(), old);
    assert.deepEqual(
      back.gears!.map((g) => g.cartridge),
      [from, from],
    );
    // Back as they were: the rollback's converge leaves them alone.
    assert.deepEqual(
      (await db.specs.specs(back)).filter((s) => old.includes(s.gearId)),
      before.filter((s) => old.includes(s.gearId)),
    );
  });
});
