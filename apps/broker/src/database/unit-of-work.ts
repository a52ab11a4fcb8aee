import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { withPlacementLog } from '../common/placement-log';
import { LOCKS, type LockName } from './locks';

/** A repository class: built on an EntityManager, the shared one or a transaction's. */
export type RepositoryClass<T = unknown> = new (m: EntityManager) => T;

/** The repositories a unit of work names, by the names it gives them. */
export type RepositoryClasses = Record<string, RepositoryClass>;
export type Repositories<C extends RepositoryClasses> = { [K in keyof C]: InstanceType<C[K]> };

/** One transaction: the repositories it hands out all write through it. */
export class Tx {
  private readonly built = new Map<RepositoryClass, unknown>();
  private savepoints = 0;

  constructor(readonly manager: EntityManager) {}

  get<T>(repository: RepositoryClass<T>): T {
    let r = this.built.get(repository) as T | undefined;
    if (!r) {
      r = new repository(this.manager);
      this.built.set(repository, r);
    }
    return r;
  }

  /**
   * Runs `work` as a part of the transaction that can fail alone: when it throws, what it wrote is undone (back to a
   * savepoint) and the error goes on to the caller, whose transaction can still commit what it did before and after.
   */
  async undoing<T>(work: () => Promise<T>): Promise<T> {
    const name = `undoing_${++this.savepoints}`;
    await this.manager.query(`savepoint ${name}`);
    try {
      const done = await work();
      await this.manager.query(`release savepoint ${name}`);
      return done;
    } catch (err) {
      await this.manager.query(`rollback to savepoint ${name}`);
      throw err;
    }
  }

  /**
   * Takes an advisory lock held until the transaction ends, part-way through it: what comes before (rows no other
   * transaction can see yet) is not serialised with everything else that takes the lock.
   */
  async lock(name: LockName): Promise<void> {
    await this.manager.query('select pg_advisory_xact_lock($1)', [LOCKS[name]]);
  }

  /** The repositories named in `classes`, bound to this transaction. */
  pick<C extends RepositoryClasses>(classes: C): Repositories<C> {
    return Object.fromEntries(Object.entries(classes).map(([name, cls]) => [name, this.get(cls)])) as Repositories<C>;
  }
}

/** Runs work in one transaction, optionally under an advisory lock held until it commits. */
@Injectable()
export class UnitOfWork {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  run<C extends RepositoryClasses, T>(classes: C, work: (repos: Repositories<C>, tx: Tx) => Promise<T>, lock?: LockName): Promise<T> {
    // The placements it makes become steps of the operation it records (common/placement-log.ts).
    return withPlacementLog(() =>
      this.dataSource.transaction(async (m) => {
        const tx = new Tx(m);
        if (lock) await tx.lock(lock);
        return work(tx.pick(classes), tx);
      }),
    );
  }

  /**
   * Runs work in one transaction whose lock is taken at its end, by a check of what it decided without the lock:
   * `work` returns its result and that check (one SQL statement, its values written into it), or null for a plain
   * commit. The check and the COMMIT go to Postgres as one query, so that the lock is held only while Postgres runs
   * them, never across a round trip to this process and its busy event loop. A check that fails rolls everything back
   * and throws its error (see isPlacementConflict).
   */
  async runCheckedAtCommit<C extends RepositoryClasses, T>(
    classes: C,
    work: (repos: Repositories<C>, tx: Tx) => Promise<{ value: T; check: string | null }>,
  ): Promise<T> {
    return withPlacementLog(async () => {
      const runner = this.dataSource.createQueryRunner();
      try {
        await runner.startTransaction();
        const tx = new Tx(runner.manager);
        const { value, check } = await work(tx.pick(classes), tx);
        if (check === null) {
          await runner.commitTransaction();
          return value;
        }
        // Several statements in one query take the simple protocol, which only the driver's client speaks.
        const client = (await runner.connect()) as { query(text: string): Promise<unknown> };
        await client.query(`${check}; commit`);
        // The transaction ended in that query; the runner is told so.
        Object.assign(runner, { isTransactionActive: false, transactionDepth: 0 });
        return value;
      } catch (err) {
        if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
        throw err;
      } finally {
        await runner.release();
      }
    });
  }

  /**
   * Runs work in one transaction only when no other broker holds the lock (it is not waited for); undefined when
   * one does. For work one broker of many should do: the others skip it.
   */
  runIfFree<T>(lock: LockName, work: () => Promise<T>): Promise<T | undefined> {
    return this.dataSource.transaction(async (m) => {
      const [row] = (await m.query('select pg_try_advisory_xact_lock($1) as got', [LOCKS[lock]])) as { got: boolean }[];
      return row?.got ? work() : undefined;
    });
  }

  async ping(): Promise<boolean> {
    try {
      await this.dataSource.query('select 1');
      return true;
    } catch {
      return false;
    }
  }
}
