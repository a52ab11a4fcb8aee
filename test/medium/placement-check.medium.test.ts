import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CHANGE_REPOS } from '../../apps/broker/src/changes/change-runner';
import { isPlacementConflict, placementHoldsCheck } from '../../apps/broker/src/database/placement-check';
import { mediumDb, type MediumDb } from './support';

/**
 * Creates place their gears from node usage read without the placement lock and check, with their COMMIT, that the
 * placement still holds (UnitOfWork.runCheckedAtCommit, migration PlacementCheck). Two transactions that placed on
 * the same node before either committed: the second check sees the first's gears.
 */
describe('placements checked at the commit, against Postgres', () => {
  let db: MediumDb;
  let web = '';

  before(async () => {
    db = await mediumDb('placement-check');
    web = [...db.catalog.cartridges.values()].find((c) => c.manifest.name.startsWith('nodejs'))!.manifest.name;
  });
  after(() => db?.close());

  /** Places one app of `mb` on `nodeId`, waits for `gate`, then commits with the check; resolves to the app's name. */
  const placing = (name: string, nodeId: string, mb: number, gate: Promise<void>, team: Parameters<typeof placementHoldsCheck>[1] = null) =>
    db.uow.runCheckedAtCommit(CHANGE_REPOS, async (repos) => {
      await repos.apps.insert(
        { domainId: db.domainId, name, desiredState: 'started', size: 'small', env: {} },
        [{ cartridge: web, generated: {} }],
        [{ cartridge: web, nodeId, memoryMb: mb }],
      );
      await gate;
      return { value: name, check: placementHoldsCheck([nodeId], team) };
    });

  /** Placements that all wrote their gears before any of them commits. */
  function together(...runs: ((gate: Promise<void>) => Promise<string>)[]) {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const settled = Promise.allSettled(runs.map((run) => run(gate)));
    setTimeout(open, 50);
    return settled;
  }

  const appsNamed = async (...names: string[]) =>
    ((await db.dataSource.query('select name from apps where name = any($1) order by name', [names])) as { name: string }[]).map((r) => r.name);

  it('commits both when the node has room for both', async () => {
    const node = await db.addNode('roomy');
    const settled = together(
      (gate) => placing('roomy-a', node.id, 1024, gate),
      (gate) => placing('roomy-b', node.id, 1024, gate),
    );
    assert.deepEqual(
      (await settled).map((s) => s.status),
      ['fulfilled', 'fulfilled'],
    );
    assert.deepEqual(await appsNamed('roomy-a', 'roomy-b'), ['roomy-a', 'roomy-b']);
  });

  it('fails the second with a conflict that names the node, and leaves nothing of it, when only one fits', async () => {
    const node = await db.addNode('tight');
    const settled = together(
      (gate) => placing('tight-a', node.id, 3000, gate),
      (gate) => placing('tight-b', node.id, 3000, gate),
    );
    const outcomes = await settled;
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    assert.equal(won.length, 1, 'one placement commits');
    assert.equal(lost.length, 1, 'the other is refused');
    assert.ok(isPlacementConflict(lost[0].reason), String(lost[0].reason));
    assert.match((lost[0].reason as Error).message, /the placement no longer holds: tight has too little free memory/);
    assert.deepEqual(await appsNamed('tight-a', 'tight-b'), [(won[0] as PromiseFulfilledResult<string>).value], 'the refused app was not made');
    const [{ mb }]: { mb: number }[] = await db.dataSource.query('select sum(memory_mb)::int as mb from gears where node_id = $1', [node.id]);
    assert.equal(mb, 3000);
  });

  it('refuses a node that began to drain, and a team past its quota, once the others committed', async () => {
    const draining = await db.addNode('leaving');
    await db.dataSource.query(`update nodes set state = 'draining' where id = $1`, [draining.id]);
    await assert.rejects(placing('on-leaving', draining.id, 256, Promise.resolve()), /the placement no longer holds: leaving is draining/);

    const node = await db.addNode('quota');
    const [team]: { id: string; gears: number }[] = await db.dataSource.query(
      `select d.team_id as id, (select count(*)::int from gears g join apps a on a.id = g.app_id where a.domain_id = d.id) as gears
         from domains d where d.id = $1`,
      [db.domainId],
    );
    const quota = { id: team.id, maxGears: team.gears + 1, maxMemoryMb: null };
    const settled = together(
      (gate) => placing('quota-a', node.id, 256, gate, quota),
      (gate) => placing('quota-b', node.id, 256, gate, quota),
    );
    const outcomes = await settled;
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
    const lost = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    assert.match(String(lost?.reason), /the team is over its quota/);
    assert.equal((await appsNamed('on-leaving', 'quota-a', 'quota-b')).length, 1);
  });

  it('writes only checked values into the statement', () => {
    assert.throws(() => placementHoldsCheck(["x'); drop table apps; --"], null), /not a uuid/);
    assert.throws(() => placementHoldsCheck([], { id: '00000000-0000-0000-0000-000000000000', maxGears: 1.5, maxMemoryMb: null }), /not an integer/);
  });
});
