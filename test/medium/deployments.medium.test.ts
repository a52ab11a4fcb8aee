import { after, before, describe, it } from 'node:test';
import { Metrics } from '../../apps/broker/src/metrics/metrics';
import assert from 'node:assert/strict';
import { OperationsService } from '../../apps/broker/src/operations/operations.service';
import { OperationsRepository } from '../../apps/broker/src/operations/operations.repository';
import { newContext } from '../../apps/broker/src/operations/contexts';
import { AppsRepository } from '../../apps/broker/src/apps/apps.repository';
import type { App } from '../../apps/broker/src/apps/app.entity';
import { DeploymentsRepository } from '../../apps/broker/src/apps/deployments.repository';
import { DeploymentStages } from '../../apps/broker/src/deployments/deployment-stages.service';
import type { RegistryJanitor } from '../../apps/broker/src/deployments/registry-janitor';
import type { Deployment } from '../../apps/broker/src/apps/deployment.entity';
import type { OperationReport } from '../../apps/broker/src/operations/report';
import { mediumDb, type MediumDb } from './support';
import type { AppGears } from '../../apps/broker/src/lifecycle/app-gears.service';
import type { DeploymentSources } from '../../apps/broker/src/deployments/sources';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('deployment rollouts against Postgres: each stage persisted', () => {
  let db: MediumDb;
  let ops: OperationsService;
  let operations: OperationsRepository;
  let apps: AppsRepository;
  let deployments: DeploymentsRepository;

  before(async () => {
    db = await mediumDb('deployments');
    ops = db.operationsService();
    // Surge, retire and rollback need nothing of AppGears but following the release with worker and service gears,
    // which these apps (no Procfile, no services) have none of; no source archive is kept for these deployments.
    const noWorkers = { followRelease: () => Promise.resolve(), followServices: () => Promise.resolve() } as unknown as AppGears;
    const noSources = { path: (id: string) => join(tmpdir(), `gearshift-medium-no-source-${id}`) } as unknown as DeploymentSources;
    const stages = new DeploymentStages(
      new DeploymentsRepository(db.dataSource.manager),
      noSources,
      noWorkers,
      ops,
      db.specs,
      db.catalog,
      {} as RegistryJanitor,
      db.config,
      new Metrics(),
      db.uow,
    );
    stages.onModuleInit();
    operations = new OperationsRepository(db.dataSource.manager);
    apps = new AppsRepository(db.dataSource.manager);
    deployments = new DeploymentsRepository(db.dataSource.manager);
  });
  after(() => db?.close());

  const release = (app: App, number: number, state: Deployment['state']) =>
    deployments.create({
      appId: app.id,
      number,
      state,
      source: { kind: 'archive', bytes: 1, files: 1 },
      env: { GREETING: `v${number}` },
      health: null,
      hooks: {},
      image: `reg/app:${number}`,
      userId: db.user.id,
    });

  /** An app serving release 1 on two old gears, with release 2's two fresh gears started beside them (the surge). */
  async function surging(name: string, opts: { firstRelease?: boolean } = {}) {
    const app0 = await db.addApp(name, []);
    const r1 = opts.firstRelease ? null : await release(app0, 1, 'active');
    const r2 = await release(app0, 2, 'rolling-out');
    if (r1) await apps.update(app0.id, { activeDeploymentId: r1.id });
    const web = app0.cartridges![0].cartridge;
    const old = r1 ? [1, 2].map(() => ({ cartridge: web, nodeId: db.node.id, memoryMb: 256, deploymentId: r1.id })) : [];
    await apps.addGears(app0.id, [...old, ...[1, 2].map(() => ({ cartridge: web, nodeId: db.node.id, memoryMb: 256, deploymentId: r2.id }))]);
    const app = (await apps.findById(app0.id))!;
    const op = await db.transaction((repos) =>
      ops.create(
        repos,
        'app.deploy',
        app.id,
        db.user,
        [{ nodeId: db.node.id, job: 'app.converge' }],
        `deploy release 2 of ${name}`,
        newContext('app.deploy', { stage: 'surge', deploymentId: r2.id, previousDeploymentId: r1?.id ?? null }),
      ),
    );
    const gearsOf = (id: string | undefined) =>
      app
        .gears!.filter((g) => g.deploymentId === id)
        .map((g) => g.id)
        .sort();
    return { app, r1, r2, op, oldGears: gearsOf(r1?.id), freshGears: gearsOf(r2.id) };
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
  const gearIds = async (appId: string) => (await apps.findById(appId))!.gears!.map((g) => g.id).sort();

  it('retires the old gears once the fresh ones are healthy, then activates the release and ends', async () => {
    const { app, r1, r2, op, freshGears } = await surging('healthy');
    db.queue.sent.length = 0;
    await ops.handleReport(report(op.id, app.id, {}));

    let now = (await operations.findById(op.id))!;
    assert.deepEqual([now.state, now.context.stage, now.pendingNodes], ['running', 'retire', [db.node.id]]);
    assert.equal(now.steps.at(-1)!.text, 'release 2 is serving; retiring 2 old gear(s)');
    assert.deepEqual(await gearIds(app.id), freshGears);
    const served = (await apps.findById(app.id))!;
    assert.deepEqual([served.activeDeploymentId, served.env], [r2.id, { GREETING: 'v2' }]);
    assert.deepEqual([(await deployments.findById(r1!.id))!.state, (await deployments.findById(r2.id))!.state], ['inactive', 'active']);
    // The retire stage's job: its own id, the release images to keep, and the usual drain.
    assert.equal(db.queue.sent.length, 1);
    const job = db.queue.sent[0];
    assert.equal(job.jobId, `${op.id}.retire.${db.node.id}`);
    assert.deepEqual(
      { ...job.data, gears: undefined },
      {
        epochs: Object.fromEntries((job.data as { gears: { gearId: string }[] }).gears.map((g) => [g.gearId, 1])),
        drainMs: db.config.drainMs,
        keepImages: ['reg/app:2', 'reg/app:1'],
        operationId: op.id,
        appId: app.id,
        gears: undefined,
      },
    );

    await ops.handleReport(report(op.id, app.id, {}));
    now = await ops.wait(now, 5);
    assert.deepEqual([now.state, now.error], ['succeeded', null]);
    assert.equal(now.steps.at(-1)!.text, 'release 2 is active');
  });

  it('rolls back fresh gears that never got healthy: the old release keeps serving, the operation fails', async () => {
    const { app, r1, r2, op, oldGears } = await surging('unhealthy');
    db.queue.sent.length = 0;
    await ops.handleReport(report(op.id, app.id, { phase: 'failed', error: 'health check failed' }));

    let now = (await operations.findById(op.id))!;
    assert.deepEqual([now.state, now.context.stage, now.error], ['running', 'rollback', 'release 2 was rolled back: health check failed']);
    assert.deepEqual(await gearIds(app.id), oldGears);
    assert.equal((await apps.findById(app.id))!.activeDeploymentId, r1!.id);
    const failed = (await deployments.findById(r2.id))!;
    assert.deepEqual([failed.state, failed.error], ['failed', 'release 2 was rolled back: health check failed']);
    // Gears that never took traffic go without draining.
    assert.deepEqual(
      [db.queue.sent.length, db.queue.sent[0].jobId, (db.queue.sent[0].data as { drainMs?: number }).drainMs],
      [1, `${op.id}.rollback.${db.node.id}`, 0],
    );

    await ops.handleReport(report(op.id, app.id, {}));
    now = (await operations.findById(op.id))!;
    assert.deepEqual([now.state, now.error], ['failed', 'release 2 was rolled back: health check failed']);
    assert.equal((await deployments.findById(r1!.id))!.state, 'active');
  });

  it('stops an app whose first release never got healthy', async () => {
    const { app, r2, op } = await surging('first-fails', { firstRelease: true });
    await ops.handleReport(report(op.id, app.id, { phase: 'failed', error: 'crashed at start' }));
    const now = (await operations.findById(op.id))!;
    assert.deepEqual([now.context.stage, now.error], ['rollback', 'release 2 was rolled back: crashed at start']);
    assert.equal(now.steps.at(-1)!.text, 'the gears of release 2 did not become healthy; the app had no release yet, so it stops until a deployment works');
    const stopped = (await apps.findById(app.id))!;
    assert.deepEqual([stopped.desiredState, stopped.activeDeploymentId, stopped.gears!.length], ['stopped', null, 0]);
    assert.equal((await deployments.findById(r2.id))!.state, 'failed');
  });

  it('takes away the fresh gears of a deployment cancelled while they start: the old release keeps serving', async () => {
    const { app, r1, r2, op, oldGears } = await surging('cancelled');
    await ops.cancel(db.user, op.id);
    assert.deepEqual(await gearIds(app.id), oldGears);
    assert.equal((await apps.findById(app.id))!.activeDeploymentId, r1!.id);
    const failed = (await deployments.findById(r2.id))!;
    assert.deepEqual([failed.state, failed.error], ['failed', `cancelled by ${db.user.username}`]);
    // The node's report of the job it was still running changes nothing any more.
    await ops.handleReport(report(op.id, app.id, {}));
    assert.deepEqual(await gearIds(app.id), oldGears);
    assert.equal((await deployments.findById(r1!.id))!.state, 'active');
  });

  it('keeps the gears of a cancelled first release, which nothing else serves beside', async () => {
    const { app, op, freshGears } = await surging('cancelled-first', { firstRelease: true });
    await ops.cancel(db.user, op.id);
    assert.deepEqual(await gearIds(app.id), freshGears);
  });
});
