import { DataSource, type EntityManager } from 'typeorm';
import { SEALED_PREFIX } from '../common/secrets';
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

  /**
   * Seals the secrets an earlier version stored in clear (see common/secrets): each row found is read (values in
   * clear read as they are) and written back (sealed). Returns how many rows it sealed; none on later starts.
   */
  async sealPlainSecrets(): Promise<number> {
    const m = this.dataSource.manager;
    const plainIn = (table: string, column: string) =>
      m.query(`select id from ${table} t where exists (select 1 from jsonb_each_text(t.${column}) e where not starts_with(e.value, $1))`, [SEALED_PREFIX]) as Promise<{ id: string }[]>;
    let sealed = 0;
    for (const r of await plainIn('apps', 'env')) sealed += await this.reseal(App, r.id, 'env');
    for (const r of await plainIn('app_cartridges', 'generated')) sealed += await this.reseal(AppCartridge, r.id, 'generated');
    for (const r of await plainIn('deployments', 'env')) sealed += await this.reseal(Deployment, r.id, 'env');
    const keys: { id: string }[] = await m.query('select id from aliases where private_key is not null and not starts_with(private_key, $1)', [SEALED_PREFIX]);
    for (const r of keys) sealed += await this.reseal(Alias, r.id, 'privateKey');
    return sealed;
  }

  private async reseal<E extends { id: string }>(entity: new () => E, id: string, column: keyof E & string): Promise<number> {
    const row = await this.dataSource.manager.findOne(entity, { where: { id } as never });
    if (!row) return 0;
    await this.dataSource.manager.update(entity, { id } as never, { [column]: row[column] } as never);
    return 1;
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
