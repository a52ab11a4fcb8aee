import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OperationsService } from '../../apps/broker/src/operations/operations.service';
import { OperationsRepository } from '../../apps/broker/src/operations/operations.repository';
import { newContext } from '../../apps/broker/src/operations/contexts';
import { AppsRepository } from '../../apps/broker/src/apps/apps.repository';
import { DeploymentsRepository } from '../../apps/broker/src/apps/deployments.repository';
import { NodesRepository } from '../../apps/broker/src/fleet/nodes.repository';
import { ConfigRolloutService } from '../../apps/broker/src/lifecycle/config-rollout.service';
import { AppGears } from '../../apps/broker/src/lifecycle/app-gears.service';
import type { CertificateAuthority } from '../../apps/broker/src/common/certificates';
import type { OperationReport } from '../../apps/broker/src/operations/report';
import type { GearSpec } from '@gearshift/cartridges';
import { mediumDb, type MediumDb } from './support';

/**
 * An environment change of a serving Procfile app rolls out to every gear of its code: a new gear starts beside each
 * web gear and each worker, with the new environment, while the old ones keep exactly what they ran. A worker that
 * never settles rolls the change back (the old gears stay, the app's environment too); once all are healthy the old
 * ones retire and the app takes the environment.
 */
describe('configuration changes roll out to workers too, against Postgres', () => {
  let db: MediumDb;
  let ops: OperationsService;
  let operations: OperationsRepository;
  let apps: AppsRepository;
  let deployments: DeploymentsRepository;
  let gears: AppGears;

  before(async () => {
    db = await mediumDb('config-rollout');
    ops = db.operationsService();
    gears = new AppGears(db.catalog, db.config, {} as CertificateAuthority);
    new ConfigRolloutService(ops, gears, db.specs, db.uow).onModuleInit();
    operations = new OperationsRepository(db.dataSource.manager);
    apps = new AppsRepository(db.dataSource.manager);
    deployments = new DeploymentsRepository(db.dataSource.manager);
    // The node takes gears: it has reported.
    await new NodesRepository(db.dataSource.manager).recordHeartbeat(db.node.id, { memoryMb: 4096, maxGears: 20, address: '127.0.0.1', rssMb: 50 }, new Date());
  });
  after(() => db?.close());

  /** A Procfile app serving release 1 on one web gear and two workers, whose environment change has surged. */
  async function changing(name: string) {
    const app0 = await db.addApp(name, []);
    await apps.update(app0.id, { env: { GREETING: 'hello' } });
    const r1 = await deployments.create({
      appId: app0.id,
      number: 1,
      state: 'active',
      source: { kind: 'archive', bytes: 1, files: 1 },
      env: { GREETING: 'hello' },
      health: null,
      hooks: {},
      image: 'reg/app:1',
      processes: { web: 'node web.js', worker: 'node worker.js' },
      userId: db.user.id,
    });
    await apps.update(app0.id, { activeDeploymentId: r1.id });
    const web = app0.cartridges![0].cartridge;
    await apps.addGears(app0.id, [
      { cartridge: web, nodeId: db.node.id, memoryMb: 256, deploymentId: r1.id },
      ...[1, 2].map(() => ({ cartridge: web, nodeId: db.node.id, memoryMb: 256, deploymentId: r1.id, process: 'worker' })),
    ]);
    const app = (await apps.findById(app0.id))!;
    const before = await db.specs.specs(app);
    const old = app.gears!.map((g) => g.id).sort();
    const env = { GREETING: 'hello', WORKER_CONCURRENCY: 'lots' };
    const op = await db.transaction(async (repos) => {
      const surged = await gears.surge(repos, app, { env });
      assert.ok(surged && !Array.isArray(surged));
      const dispatch = [{ nodeId: db.node.id, job: 'app.converge' as const }];
      return ops.create(repos, 'app.env', app.id, db.user, dispatch, `change environment of ${name}`, newContext('app.env', surged.context as never));
    });
    const now = (await apps.findById(app.id))!;
    const fresh = now.gears!.filter((g) => !old.includes(g.id));
    return { app: now, op, before, old, fresh, env };
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

  it('starts a new gear beside each web gear and worker, with the new environment; the old ones keep their specs', async () => {
    const { op, before, old, fresh } = await changing('surge');
    assert.deepEqual(fresh.map((g) => g.process ?? 'web').sort(), ['web', 'worker', 'worker']);
    const rollout = (op.context as { rollout: { fresh: string[]; old: string[] } }).rollout;
    assert.deepEqual([...rollout.fresh].sort(), fresh.map((g) => g.id).sort());
    assert.deepEqual([...rollout.old].sort(), old);
    db.queue.sent.length = 0;
    await ops.dispatch(op);
    const specs = (db.queue.sent[0].data as { gears: GearSpec[] }).gears;
    assert.deepEqual(
      specs.filter((s) => old.includes(s.gearId)),
      before.filter((s) => old.includes(s.gearId)),
      'the old gears, workers too, are not replaced in place',
    );
    const started = specs.filter((s) => fresh.some((g) => g.id === s.gearId));
    assert.equal(started.length, 3);
    for (const s of started) assert.equal(s.env.WORKER_CONCURRENCY, 'lots', s.gearId);
    assert.deepEqual(started.map((s) => s.process ?? 'web').sort(), ['web', 'worker', 'worker']);
  });

  it('rolls back when a new worker never settles: the old gears and the environment stay, naming the gear', async () => {
    const { app, op, before, old } = await changing('crashing');
    const error = 'process worker, gear 0123abcd stopped with exit code 1; it printed: FATAL: WORKER_CONCURRENCY must be a whole number';
    await ops.handleReport(report(op.id, app.id, { phase: 'failed', error }));
    const now = (await operations.findById(op.id))!;
    assert.deepEqual([now.context.stage, now.error], ['rollback', `the environment change was rolled back: ${error}`]);
    const back = (await apps.findById(app.id))!;
    assert.deepEqual(back.gears!.map((g) => g.id).sort(), old);
    assert.deepEqual(back.env, { GREETING: 'hello' });
    assert.deepEqual((await deployments.findById(back.activeDeploymentId!))!.env, { GREETING: 'hello' });
    const byId = (a: GearSpec, b: GearSpec) => a.gearId.localeCompare(b.gearId);
    assert.deepEqual((await db.specs.specs(back)).sort(byId), before.sort(byId), 'the old gears run on as they were');
  });

  it('retires the old gears, workers too, once every new one is healthy; the app takes the environment', async () => {
    const { app, op, fresh, env } = await changing('healthy');
    const started = (await db.specs.specs(app, new Map(fresh.map((g) => [g.id, env])))).filter((s) => fresh.some((g) => g.id === s.gearId));
    await ops.handleReport(report(op.id, app.id, {}));
    const now = (await operations.findById(op.id))!;
    assert.deepEqual([now.state, now.context.stage], ['running', 'retire']);
    const after = (await apps.findById(app.id))!;
    assert.deepEqual(after.gears!.map((g) => g.id).sort(), fresh.map((g) => g.id).sort());
    assert.deepEqual(after.env, env);
    // The new gears run on as they started: taking the environment replaces none of them.
    const byId = (a: GearSpec, b: GearSpec) => a.gearId.localeCompare(b.gearId);
    assert.deepEqual((await db.specs.specs(after)).sort(byId), started.sort(byId));
  });
});
