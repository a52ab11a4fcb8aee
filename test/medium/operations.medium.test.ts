import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OperationsService } from '../../apps/broker/src/operations/operations.service';
import { OperationsRepository } from '../../apps/broker/src/operations/operations.repository';
import { AppsRepository } from '../../apps/broker/src/apps/apps.repository';
import type { OperationReport } from '../../apps/broker/src/operations/report';
import { GearshiftError } from '../../apps/broker/src/common/errors';
import { mediumDb, type MediumDb } from './support';

describe('operations against Postgres: created, dispatched, finished by reports', () => {
  let db: MediumDb;
  let ops: OperationsService;
  let operations: OperationsRepository;
  let apps: AppsRepository;

  before(async () => {
    db = await mediumDb('operations');
    ops = db.operationsService();
    operations = new OperationsRepository(db.dataSource.manager);
    apps = new AppsRepository(db.dataSource.manager);
  });
  after(() => db?.close());

  const report = (operationId: string, nodeId: string, patch: Partial<OperationReport>): OperationReport => ({
    operationId,
    nodeId,
    appId: '',
    phase: 'step',
    at: Date.now(),
    gears: [],
    ...patch,
  });

  it('waits for every node, then ends once the routers serve the change', async () => {
    const node2 = await db.addNode('node2');
    const app = await db.addApp('two-nodes', [{}, { nodeId: node2.id }]);
    const dispatch = [
      { nodeId: db.node.id, job: 'app.converge' as const },
      { nodeId: node2.id, job: 'app.converge' as const },
    ];
    const op = await db.transaction((repos) => ops.create(repos, 'app.scale', app.id, db.user, dispatch, 'scale two-nodes to 2'));
    assert.equal(op.state, 'queued');
    assert.deepEqual(op.pendingNodes.sort(), [db.node.id, node2.id].sort());

    db.queue.sent.length = 0;
    await ops.dispatch(op);
    const specs = await db.specs.specs(app);
    const gearOn = (nodeId: string) => app.gears!.find((g) => g.nodeId === nodeId)!.id;
    assert.deepEqual(
      db.queue.sent.map((j) => ({ nodeId: j.nodeId, name: j.name, jobId: j.jobId, data: j.data })),
      [db.node.id, node2.id].map((nodeId) => ({
        nodeId,
        name: 'app.converge',
        jobId: `${op.id}.${nodeId}`,
        data: {
          epochs: { [gearOn(nodeId)]: 1 },
          drainMs: db.config.drainMs,
          operationId: op.id,
          appId: app.id,
          gears: specs.filter((s) => s.gearId === gearOn(nodeId)),
        },
      })),
    );

    await ops.handleReport(report(op.id, db.node.id, { appId: app.id, step: 'starting gear' }));
    let now = (await operations.findById(op.id))!;
    assert.equal(now.state, 'running');
    assert.deepEqual(
      now.steps.map((s) => s.text),
      ['scale two-nodes to 2', 'starting gear'],
    );

    await ops.handleReport(
      report(op.id, db.node.id, {
        appId: app.id,
        phase: 'succeeded',
        gears: [{ gearId: gearOn(db.node.id), appId: app.id, state: 'running', ports: { http: 41000 } }],
      }),
    );
    now = (await operations.findById(op.id))!;
    assert.equal(now.state, 'running');
    assert.deepEqual(now.pendingNodes, [node2.id]);
    const gear = (await apps.findById(app.id))!.gears!.find((g) => g.nodeId === db.node.id)!;
    assert.deepEqual([gear.state, gear.ports], ['running', { http: 41000 }]);

    await ops.handleReport(report(op.id, node2.id, { appId: app.id, phase: 'succeeded' }));
    now = await ops.wait(now, 5);
    assert.equal(now.state, 'succeeded');
    assert.equal(now.error, null);
    assert.deepEqual(now.pendingNodes, []);
    assert.deepEqual(now.context, {});
    assert.ok(now.finishedAt);
  });

  it("keeps a report's steps among the stored ones in time order, without reading them back", async () => {
    const app = await db.addApp('ordered', [{}]);
    const op = await db.transaction((repos) =>
      ops.create(repos, 'app.restart', app.id, db.user, [{ nodeId: db.node.id, job: 'app.converge' }], 'restart ordered'),
    );
    const t = Date.now();
    await ops.handleReport(report(op.id, db.node.id, { appId: app.id, step: 'third', at: t + 3000 }));
    await ops.handleReport(report(op.id, db.node.id, { appId: app.id, step: 'fourth', at: t + 4000 }));
    // Steps the node batched, taken before what was stored last: they go in their place, the outcome after.
    await ops.handleReport(
      report(op.id, db.node.id, {
        appId: app.id,
        phase: 'succeeded',
        at: t + 5000,
        steps: [
          { at: t + 1000, text: 'first' },
          { at: t + 2000, text: 'second' },
        ],
      }),
    );
    const now = (await operations.findById(op.id))!;
    assert.deepEqual(
      now.steps.map((s) => s.text),
      ['restart ordered', 'first', 'second', 'third', 'fourth', 'node finished'],
    );
    assert.deepEqual(
      now.steps.slice(1, 3).map((s) => s.node),
      [db.node.id, db.node.id],
    );
  });

  it('adds each step as a row, placements whole, after the steps an operation of the previous release kept in its column', async () => {
    const app = await db.addApp('carried', [{}]);
    const t = Date.now();
    const at = (s: number) => new Date(t + s * 1000).toISOString();
    const placement = {
      at: at(1),
      text: 'placed web on node1',
      considered: [{ node: 'node1', zone: 'a', chosen: true, reason: 'most free memory' }],
      passedOver: { 'no capacity': 3 },
    };
    const op = await db.transaction((repos) =>
      repos.operations.create({
        kind: 'app.restart',
        appId: app.id,
        userId: db.user.id,
        pendingNodes: [db.node.id],
        dispatch: [{ nodeId: db.node.id, job: 'app.converge' }],
        steps: [{ at: at(0), text: 'restart carried' }, placement],
      }),
    );
    // Written by a broker of the previous release while this one started: into the column.
    const earlier = [{ at: at(2), node: db.node.id, text: 'pulled the image' }];
    await db.dataSource.query('update operations set steps = $2 where id = $1', [op.id, JSON.stringify(earlier)]);
    await ops.handleReport(report(op.id, db.node.id, { appId: app.id, step: 'started', at: t + 3000 }));
    await ops.handleReport(report(op.id, db.node.id, { appId: app.id, phase: 'succeeded', at: t + 4000 }));

    const now = (await operations.findById(op.id))!;
    assert.deepEqual(
      now.steps.map((s) => s.text),
      ['restart carried', 'placed web on node1', 'pulled the image', 'started', 'node finished'],
    );
    assert.deepEqual(now.steps[1], placement, 'a placement comes back as it was made, with the nodes it considered');
    assert.deepEqual(now.steps[2], earlier[0]);
    const [rows]: { n: number }[] = await db.dataSource.query('select count(*)::int as n from operation_steps where operation_id = $1', [op.id]);
    assert.equal(rows.n, 4, 'one row per step added, none written twice');
    assert.deepEqual((await operations.forApp(app.id, 5)).find((o) => o.id === op.id)?.steps, now.steps, 'a list of operations reads the same steps');
  });

  it("fails with the node's reason and marks the node's gears that it could not make", async () => {
    const app = await db.addApp('breaks', [{}, {}]);
    const [ok, broken] = app.gears!;
    const op = await db.transaction((repos) =>
      ops.create(repos, 'app.restart', app.id, db.user, [{ nodeId: db.node.id, job: 'app.converge' }], 'restart breaks'),
    );
    await ops.handleReport(
      report(op.id, db.node.id, {
        appId: app.id,
        phase: 'failed',
        error: 'image not found',
        gears: [{ gearId: ok.id, appId: app.id, state: 'running', ports: {} }],
      }),
    );
    const now = (await operations.findById(op.id))!;
    assert.deepEqual([now.state, now.error, now.pendingNodes], ['failed', 'image not found', []]);
    assert.deepEqual(
      now.steps.map((s) => s.text),
      ['restart breaks', 'node failed'],
    );
    const gears = new Map((await apps.findById(app.id))!.gears!.map((g) => [g.id, g]));
    assert.deepEqual([gears.get(ok.id)!.state, gears.get(ok.id)!.message], ['running', null]);
    assert.deepEqual([gears.get(broken.id)!.state, gears.get(broken.id)!.message], ['failed', 'image not found']);

    // A late progress line is kept; the outcome stands.
    await ops.handleReport(report(op.id, db.node.id, { appId: app.id, step: 'cleaned up' }));
    const later = (await operations.findById(op.id))!;
    assert.deepEqual([later.state, later.error], ['failed', 'image not found']);
    assert.deepEqual(
      later.steps.map((s) => s.text),
      ['restart breaks', 'node failed', 'cleaned up'],
    );
  });

  it('deletes the app when its deletion succeeded on its nodes', async () => {
    const app = await db.addApp('goes-away', [{}]);
    const op = await db.transaction((repos) =>
      ops.create(repos, 'app.delete', app.id, db.user, [{ nodeId: db.node.id, job: 'app.remove' }], 'delete goes-away'),
    );
    await ops.handleReport(report(op.id, db.node.id, { appId: app.id, phase: 'succeeded' }));
    const now = (await operations.findById(op.id))!;
    assert.deepEqual([now.state, now.appId], ['succeeded', null]);
    assert.equal(await apps.findById(app.id), null);
  });

  it("tells a node at once to withdraw the gears a cancelled operation's ending removed, and nothing of the others", async () => {
    const node2 = await db.addNode('node3');
    const app = await db.addApp('surging', [{}, { nodeId: node2.id }, {}]);
    const elsewhere = app.gears!.find((g) => g.nodeId === node2.id)!;
    const [kept, fresh] = app.gears!.filter((g) => g !== elsewhere);
    // The ending of a rollout cancelled while its fresh gears started: they go, the serving ones stay.
    ops.registerStages('test.surge', {
      next: async () => null,
      ended: async () => {
        await db.transaction((repos) => repos.apps.removeGears([fresh.id]));
      },
    });
    const op = await db.transaction((repos) =>
      ops.create(repos, 'test.surge', app.id, db.user, [{ nodeId: db.node.id, job: 'app.converge' }], 'surge surging'),
    );
    db.queue.sent.length = 0;
    await ops.cancel(db.user, op.id);
    const fences = db.queue.sent.filter((j) => j.name === 'node.fence');
    assert.deepEqual(
      fences.map((j) => ({ nodeId: j.nodeId, data: j.data })),
      [{ nodeId: db.node.id, data: { gears: [{ gearId: fresh.id, appId: app.id, epoch: 2 ** 31 - 1 }] } }],
    );
    assert.deepEqual((await apps.findById(app.id))!.gears!.map((g) => g.id).sort(), [kept.id, elsewhere.id].sort());
  });

  it('ends at once, with what it wrote undone, an operation whose next stage can never go on; retries one that may', async () => {
    const app = await db.addApp('too-big', [{}]);
    // A next stage that places a gear, then finds the rest of the release does not fit (422), or that no node is
    // ready (503): what it placed must not stay, and only the 503 is worth the report's retry.
    let refusal = new GearshiftError('capacity_exceeded', 'the release needs 101 gears of 256 MB (25.3 GB); the nodes can take 74 more');
    ops.registerStages('test.stages', {
      next: async (tx) => {
        await tx.get(AppsRepository).addGears(app.id, [{ cartridge: 'nodejs-18', nodeId: db.node.id, memoryMb: 256, deploymentId: null }]);
        throw refusal;
      },
    });
    const dispatch = [{ nodeId: db.node.id, job: 'app.converge' as const }];
    const start = async () => {
      const op = await db.transaction((repos) => ops.create(repos, 'test.stages', app.id, db.user, dispatch, 'build'));
      await ops.dispatch(op);
      return op;
    };
    const gears = async () => (await apps.findById(app.id))!.gears!.length;

    const op = await start();
    await ops.handleReport(report(op.id, db.node.id, { appId: app.id, phase: 'succeeded' }));
    const ended = (await operations.findById(op.id))!;
    assert.equal(ended.state, 'failed');
    assert.equal(ended.error, refusal.message);
    assert.match(ended.steps.at(-1)!.text, /^failed: the release needs 101 gears/);
    assert.equal(await gears(), 1, 'the gear the stage placed is gone with it');

    refusal = new GearshiftError('no_capacity', 'no node can take 1 gear(s) needing 256 MB: node1 has not reported yet');
    const waiting = await start();
    await assert.rejects(ops.handleReport(report(waiting.id, db.node.id, { appId: app.id, phase: 'succeeded' })), /has not reported yet/);
    // Nothing of the report is kept: it goes back to the queue and comes again.
    assert.equal((await operations.findById(waiting.id))!.state, 'queued');
    assert.equal(await gears(), 1);
  });
});
