import { after, before, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { specHash, type BrokerJobs, type GearReport } from '@gearshift/cartridges';
import { NodesService } from '../../apps/broker/src/nodes/nodes.service';
import { OperationsService } from '../../apps/broker/src/operations/operations.service';
import { AppsRepository } from '../../apps/broker/src/apps/apps.repository';
import { NodesRepository } from '../../apps/broker/src/fleet/nodes.repository';
import type { App } from '../../apps/broker/src/apps/app.entity';
import type { GearSpecsService } from '../../apps/broker/src/apps/gear-specs.service';
import { mediumDb, type MediumDb } from './support';

describe('heartbeats against Postgres: drift is repaired with a converge job', () => {
  let db: MediumDb;
  let nodes: NodesService;
  let ops: OperationsService;
  let apps: AppsRepository;

  before(async () => {
    db = await mediumDb('heartbeat');
    nodes = db.nodesService();
    ops = db.operationsService();
    apps = new AppsRepository(db.dataSource.manager);
  });
  after(() => db?.close());

  const heartbeat = (gears: GearReport[]): BrokerJobs['node.heartbeat'] =>
    ({
      nodeId: db.node.id,
      at: Date.now(),
      capacity: { memoryMb: 4096, maxGears: 20, address: '127.0.0.1' },
      memoryRssMb: 60,
      gears,
    }) as BrokerJobs['node.heartbeat'];

  /** What the node would report for gears that run exactly as specified. */
  const runningAsSpecified = async (app: App): Promise<GearReport[]> =>
    (await db.specs.specs(app)).map((s) => ({ gearId: s.gearId, appId: app.id, state: 'running', specHash: specHash(s), ports: {} }));

  /**
   * The apps the heartbeats compare (whose specs they look at), a sorted list per beat that compared any, until
   * `stop()`. An app is compared without being read again when another beat read it moments ago, as it is stored now.
   */
  const watchComparisons = () => {
    const compared: string[][] = [];
    const specs = (nodes as unknown as { specs: GearSpecsService }).specs;
    const cached = specs.cachedSpecs.bind(specs);
    const handle = nodes.handleHeartbeat.bind(nodes);
    // The list of the beat being handled, made at its first comparison.
    const now: { beat: string[] | null } = { beat: null };
    specs.cachedSpecs = (app: App) => {
      if (!now.beat) compared.push((now.beat = []));
      now.beat.push(app.id);
      now.beat.sort();
      return cached(app);
    };
    nodes.handleHeartbeat = async (hb) => {
      now.beat = null;
      try {
        await handle(hb);
      } finally {
        now.beat = null;
      }
    };
    const stop = () => {
      specs.cachedSpecs = cached;
      nodes.handleHeartbeat = handle;
    };
    return { compared, stop };
  };

  it('sends nothing for a node that runs what the broker wants', async () => {
    const app = await db.addApp('steady', [{}]);
    const gears = await runningAsSpecified(app);
    db.queue.sent.length = 0;
    await nodes.handleHeartbeat(heartbeat(gears));
    assert.deepEqual(db.queue.sent, []);
    await apps.delete(app.id);
  });

  it('converges an app whose gear is missing on the node, and records the gear as missing', async () => {
    const app = await db.addApp('drifted', [{}]);
    const specs = await db.specs.specs(app);
    db.queue.sent.length = 0;
    await nodes.handleHeartbeat(heartbeat([]));
    assert.equal(db.queue.sent.length, 1);
    const [job] = db.queue.sent;
    assert.match(job.jobId!, new RegExp(`^drift\\.${app.id}\\.${db.node.id}\\.\\d+$`));
    assert.deepEqual(
      { nodeId: job.nodeId, name: job.name, data: job.data },
      // Each gear's assignment epoch goes with it: the node refuses a job older than the one it holds.
      { nodeId: db.node.id, name: 'app.converge', data: { epochs: { [app.gears![0].id]: 1 }, appId: app.id, gears: specs } },
    );
    assert.equal((await apps.findById(app.id))!.gears![0].state, 'missing');
    await apps.delete(app.id);
  });

  it('converges a gear that stays missing five times, then leaves it failed with the reason and sends no more', async () => {
    const app = await db.addApp('hopeless', [{}]);
    db.queue.sent.length = 0;
    // Each beat in a later 5 s window, after the broker would compare an unchanged node again.
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    try {
      for (let i = 0; i < 8; i++) {
        await nodes.handleHeartbeat(heartbeat([]));
        mock.timers.tick(11_000);
      }
    } finally {
      mock.timers.reset();
    }
    assert.equal(db.queue.sent.filter((j) => j.name === 'app.converge').length, 5);
    const gear = (await apps.findById(app.id))!.gears![0];
    assert.equal(gear.state, 'failed');
    assert.equal(gear.message, 'not started again after 5 attempts: its container is missing');
    await apps.delete(app.id);
  });

  it('does not converge a gear an operation left failed, and keeps its reason', async () => {
    const app = await db.addApp('pullless', [{}]);
    await apps.markFailed(app.id, db.node.id, [], 'image x:1 could not be pulled');
    db.queue.sent.length = 0;
    await nodes.handleHeartbeat(heartbeat([]));
    assert.deepEqual(db.queue.sent, []);
    const gear = (await apps.findById(app.id))!.gears![0];
    assert.deepEqual([gear.state, gear.message], ['failed', 'image x:1 could not be pulled']);
    await apps.delete(app.id);
  });

  it('converges a gear whose container runs an older spec', async () => {
    const app = await db.addApp('stale', [{}]);
    const [gear] = await runningAsSpecified(app);
    db.queue.sent.length = 0;
    await nodes.handleHeartbeat(heartbeat([{ ...gear, specHash: 'older' }]));
    assert.deepEqual(
      db.queue.sent.map((j) => [j.name, (j.data as { appId: string }).appId]),
      [['app.converge', app.id]],
    );
    await apps.delete(app.id);
  });

  it('compares an app that reports the same gears again only after a while, and at once when they change', async () => {
    const app = await db.addApp('quiet', [{}]);
    const other = await db.addApp('neighbour', [{}]);
    const gears = [...(await runningAsSpecified(app)), ...(await runningAsSpecified(other))];
    const { compared, stop } = watchComparisons();
    try {
      await nodes.handleHeartbeat(heartbeat(gears));
      await nodes.handleHeartbeat(heartbeat(gears));
      await nodes.handleHeartbeat(heartbeat(gears));
      assert.deepEqual(compared, [[app.id, other.id].sort()], 'the same gears again are not compared again');
      db.queue.sent.length = 0;
      await nodes.handleHeartbeat(heartbeat(gears.filter((g) => g.appId !== app.id)));
      assert.deepEqual(compared.slice(1), [[app.id]], 'a gear gone is compared at once, and only its app');
      assert.deepEqual(
        db.queue.sent.map((j) => j.name),
        ['app.converge'],
      );
      // What the app should run changing, with nothing changed on the node: compared within seconds.
      await nodes.handleHeartbeat(heartbeat(gears));
      compared.length = 0;
      await nodes.handleHeartbeat(heartbeat(gears));
      assert.deepEqual(compared, [], 'the node runs what it should again');
      await apps.update(other.id, { desiredState: 'stopped' });
      db.queue.sent.length = 0;
      mock.timers.enable({ apis: ['Date'], now: Date.now() });
      try {
        await nodes.handleHeartbeat(heartbeat(gears));
        assert.deepEqual(compared, [], 'a node reporting the same gears is not looked at again at once');
        mock.timers.tick(11_000);
        await nodes.handleHeartbeat(heartbeat(gears));
      } finally {
        mock.timers.reset();
      }
      assert.deepEqual(compared, [[other.id]], 'a change of the desired state is compared within seconds, and only its app');
      assert.deepEqual(
        db.queue.sent.map((j) => [j.name, (j.data as { appId: string }).appId]),
        [['app.converge', other.id]],
      );
    } finally {
      stop();
      await apps.delete(app.id);
      await apps.delete(other.id);
    }
  });

  it("compares an app another node's beat read moments ago without reading it again, until a gear of it is stored anew", async () => {
    const node2 = await db.addNode('read-once-2');
    const app = await db.addApp('read-once', [{}, { nodeId: node2.id }]);
    const [on1, on2] = await runningAsSpecified(app);
    const gear2 = app.gears!.find((g) => g.nodeId === node2.id)!.id;
    const [mine, theirs] = on1.gearId === gear2 ? [on2, on1] : [on1, on2];
    // Stored as the nodes will report them: their beats store nothing.
    await apps.recordGearReports(db.node.id, [mine]);
    await apps.recordGearReports(node2.id, [theirs]);
    const beatOf = (nodeId: string, gears: GearReport[]) => ({ ...heartbeat(gears), nodeId });
    const repo = (nodes as unknown as { appsRepository: AppsRepository }).appsRepository;
    const findByIds = repo.findByIds.bind(repo);
    const read: string[][] = [];
    repo.findByIds = (ids: string[]) => (read.push([...ids]), findByIds(ids));
    const { compared, stop } = watchComparisons();
    try {
      await nodes.handleHeartbeat(beatOf(db.node.id, [mine]));
      await nodes.handleHeartbeat(beatOf(node2.id, [theirs]));
      assert.deepEqual(compared, [[app.id], [app.id]], 'each node compares the app');
      assert.deepEqual(read, [[app.id]], 'the second node compares the app as the first read it');
      // Its container on the second node gone: compared at once, and the gear stored as missing.
      await nodes.handleHeartbeat(beatOf(node2.id, []));
      assert.equal(compared.length, 3);
      assert.equal((await apps.findById(app.id))!.gears!.find((g) => g.id === gear2)!.state, 'missing');
      // The gear stored anew since the app was read: the next comparison reads it as it is stored now.
      await nodes.handleHeartbeat(beatOf(node2.id, [theirs]));
      assert.equal(compared.length, 4);
      assert.deepEqual(read, [[app.id], [app.id]], 'an app whose gear was stored anew is read again');
    } finally {
      stop();
      repo.findByIds = findByIds;
      await apps.delete(app.id);
    }
  });

  it('leaves an app found in order alone while nothing of it changes, and compares it again when the catalogue does', async () => {
    const app = await db.addApp('in-order', [{}]);
    const gears = await runningAsSpecified(app);
    const { compared, stop } = watchComparisons();
    const web = [...db.catalog.cartridges.values()].find((c) => c.manifest.name === app.gears![0].cartridge)!;
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    try {
      await nodes.handleHeartbeat(heartbeat(gears));
      compared.length = 0;
      // Ten minutes of the same beats: no app of the node is read again.
      for (let i = 0; i < 60; i++) {
        mock.timers.tick(11_000);
        await nodes.handleHeartbeat(heartbeat(gears));
      }
      assert.equal(compared.length, 0, 'an app in order is not compared again while nothing of it changes');
      // A reload that changes the app's cartridge.
      db.catalog.cartridges.set(web.manifest.name, { ...web, hash: `${web.hash}-changed` });
      mock.timers.tick(11_000);
      await nodes.handleHeartbeat(heartbeat(gears));
      assert.ok(
        compared.some((ids) => ids.includes(app.id)),
        'a changed catalogue compares it again',
      );
    } finally {
      mock.timers.reset();
      db.catalog.cartridges.set(web.manifest.name, web);
      stop();
    }
    await apps.delete(app.id);
  });

  it('leaves an app alone while an operation of it runs', async () => {
    const app = await db.addApp('busy', [{}]);
    await db.transaction((repos) => ops.create(repos, 'app.restart', app.id, db.user, [{ nodeId: db.node.id, job: 'app.converge' }], 'restart busy'));
    db.queue.sent.length = 0;
    await nodes.handleHeartbeat(heartbeat([]));
    assert.deepEqual(db.queue.sent, []);
  });

  it('leaves an app alone in a beat the node took before its last operation ended, and compares it in the next', async () => {
    const app = await db.addApp('late-beat', [{}]);
    await db.transaction((repos) => ops.create(repos, 'app.create', app.id, db.user, [{ nodeId: db.node.id, job: 'app.converge' }], 'create'));
    // The node looked at its containers (none yet) and the beat waited in the queue; meanwhile the operation ended.
    const seen = Date.now() - 2000;
    await db.dataSource.query(`update operations set state = 'succeeded', finished_at = now() where app_id = $1`, [app.id]);
    db.queue.sent.length = 0;
    await nodes.handleHeartbeat({ ...heartbeat([]), at: seen });
    assert.equal(db.queue.sent.length, 0, 'a beat older than the operation does not find its gears missing');
    await nodes.handleHeartbeat(heartbeat([]));
    assert.equal(db.queue.sent.filter((j) => j.name === 'app.converge').length, 1, 'a beat after it does');
    await apps.delete(app.id);
  });

  it('records a beat in one statement, and skips one that waited in the queue while the node counts as alive', async () => {
    const nodesRepo = new NodesRepository(db.dataSource.manager);
    await nodes.handleHeartbeat({ ...heartbeat([]), at: Date.now() });
    const heard = (await nodesRepo.findById(db.node.id))!;
    assert.equal(heard.memoryMb, 4096);
    assert.equal(heard.lostAt, null);
    // Ten seconds in the queue, and the node was heard just now: later beats follow it, it is not needed.
    await nodes.handleHeartbeat({ ...heartbeat([]), at: Date.now() - 10_000, capacity: { memoryMb: 2048, maxGears: 20, address: '127.0.0.1' } });
    assert.equal((await nodesRepo.findById(db.node.id))!.memoryMb, 4096);
    // A node silent for longer is heard even through a late beat.
    await db.dataSource.query(`update nodes set last_heartbeat = now() - interval '1 hour' where id = $1`, [db.node.id]);
    await nodes.handleHeartbeat({ ...heartbeat([]), at: Date.now() - 10_000, capacity: { memoryMb: 2048, maxGears: 20, address: '127.0.0.1' } });
    const late = (await nodesRepo.findById(db.node.id))!;
    assert.equal(late.memoryMb, 2048);
    assert.ok(Date.now() - late.lastHeartbeat!.getTime() < 60_000);
    await nodes.handleHeartbeat({ ...heartbeat([]), at: Date.now() });
    // An unknown node's beat changes nothing and fails nothing.
    await nodes.handleHeartbeat({ ...heartbeat([]), nodeId: '00000000-0000-4000-8000-0000000000ff', at: Date.now() });
  });

  it('removes containers of an app the platform does not know', async () => {
    db.queue.sent.length = 0;
    const stranger = '00000000-0000-4000-8000-000000000001';
    await nodes.handleHeartbeat(heartbeat([{ gearId: '00000000-0000-4000-8000-000000000002', appId: stranger, state: 'running', ports: {} }]));
    assert.deepEqual(
      db.queue.sent.filter((j) => j.name === 'app.remove').map((j) => j.data),
      [{ appId: stranger }],
    );
  });
});
