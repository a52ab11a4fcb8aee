import { DataSource, type EntityManager } from 'typeorm';
import { AppsRepository } from '../apps/apps.repository';
import { App } from '../apps/app.entity';
import { AppCartridge } from '../apps/app-cartridge.entity';
import { Gear } from '../apps/gear.entity';
import { CartridgeRecord } from '../cartridges/cartridge.entity';
import { CartridgesRepository } from '../cartridges/cartridges.repository';
import { Domain } from '../domains/domain.entity';
import { DomainsRepository } from '../domains/domains.repository';
import { Node, NodeJoinToken } from '../nodes/node.entity';
import { NodesRepository } from '../nodes/nodes.repository';
import { Operation } from '../operations/operation.entity';
import { OperationsRepository } from '../operations/operations.repository';
import { ApiToken, User } from '../users/user.entity';
import { UsersRepository } from '../users/users.repository';
import { MIGRATIONS } from '../../../../migrations';
import { Alias } from '../routes/alias.entity';
import { AliasesRepository } from '../routes/aliases.repository';
import { Deployment } from '../deployments/deployment.entity';
import { DeploymentsRepository } from '../deployments/deployments.repository';

export interface Repos {
  users: UsersRepository;
  domains: DomainsRepository;
  apps: AppsRepository;
  nodes: NodesRepository;
  operations: OperationsRepository;
  cartridges: CartridgesRepository;
  aliases: AliasesRepository;
  deployments: DeploymentsRepository;
}

const reposFor = (m: EntityManager): Repos => ({
  users: new UsersRepository(m),
  domains: new DomainsRepository(m),
  apps: new AppsRepository(m),
  nodes: new NodesRepository(m),
  operations: new OperationsRepository(m),
  cartridges: new CartridgesRepository(m),
  aliases: new AliasesRepository(m),
  deployments: new DeploymentsRepository(m),
});

/** Advisory lock keys: one for migrations, one that serialises gear placement so no node is overcommitted. */
const LOCKS = { migrations: 0x6765_6172, placement: 0x6765_6173 } as const;

export function createDataSource(url: string): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities: [User, ApiToken, Domain, App, AppCartridge, Gear, Node, NodeJoinToken, Operation, CartridgeRecord, Alias, Deployment],
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    extra: { max: 10, connectionTimeoutMillis: 5000 },
  });
}

/** The broker's access to Postgres: repositories, transactions and locks. */
export class Store {
  readonly repos: Repos;

  constructor(readonly dataSource: DataSource) {
    this.repos = reposFor(dataSource.manager);
  }

  transaction<T>(work: (repos: Repos) => Promise<T>, lock?: keyof typeof LOCKS): Promise<T> {
    return this.dataSource.transaction(async (m) => {
      if (lock) await m.query('select pg_advisory_xact_lock($1)', [LOCKS[lock]]);
      return work(reposFor(m));
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

  /** Runs pending migrations while holding an advisory lock, so brokers starting together migrate once. */
  async migrate(): Promise<string[]> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.query('select pg_advisory_lock($1)', [LOCKS.migrations]);
      const done = await this.dataSource.runMigrations({ transaction: 'each' });
      return done.map((m) => m.name);
    } finally {
      await runner.query('select pg_advisory_unlock($1)', [LOCKS.migrations]).catch(() => undefined);
      await runner.release();
    }
  }
}
