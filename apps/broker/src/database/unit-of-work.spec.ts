import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DataSource, EntityManager } from 'typeorm';
import { Tx, UnitOfWork } from './unit-of-work';
import { LOCKS } from './locks';

class FirstRepository {
  constructor(readonly m: EntityManager) {}
}
class SecondRepository {
  constructor(readonly m: EntityManager) {}
}

/** A DataSource whose transaction hands over `manager` and records the queries run on it. */
function fakeDataSource() {
  const queries: unknown[][] = [];
  const manager = { query: async (...args: unknown[]) => queries.push(args) } as unknown as EntityManager;
  const dataSource = { transaction: async (work: (m: EntityManager) => Promise<unknown>) => work(manager) } as unknown as DataSource;
  return { dataSource, manager, queries };
}

describe('unit of work', () => {
  it('binds every repository it hands out to the transaction, one of each class', () => {
    const manager = {} as EntityManager;
    const tx = new Tx(manager);
    const bag = tx.pick({ first: FirstRepository, second: SecondRepository });
    assert.equal(bag.first.m, manager);
    assert.equal(bag.second.m, manager);
    assert.equal(tx.get(FirstRepository), bag.first);
  });

  it('runs the work with the repositories it names, taking no lock unless asked', async () => {
    const { dataSource, manager, queries } = fakeDataSource();
    const result = await new UnitOfWork(dataSource).run({ first: FirstRepository }, async (repos, tx) => {
      assert.equal(repos.first.m, manager);
      assert.equal(tx.get(FirstRepository), repos.first);
      return 'done';
    });
    assert.equal(result, 'done');
    assert.deepEqual(queries, []);
  });

  it('takes the advisory lock it is asked for before the work', async () => {
    const { dataSource, queries } = fakeDataSource();
    await new UnitOfWork(dataSource).run({}, async () => assert.equal(queries.length, 1), 'placement');
    assert.deepEqual(queries, [['select pg_advisory_xact_lock($1)', [LOCKS.placement]]]);
  });
});
