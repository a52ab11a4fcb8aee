import { mkdtempSync, rmSync } from 'node:fs';
import { Metrics } from '../../apps/broker/src/metrics/metrics';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { dropDatabase } from '../support/stores';
import { DataSource } from 'typeorm';
import { Logger } from '@nestjs/common';
import { DEFAULT_DATABASE_URL, loadCatalog, withPostgresDatabase, type NodeJobName, type NodeJobs } from '@gearshift/cartridges';
import { loadConfig, type BrokerConfig } from '../../apps/broker/src/config';
import { useSecretKey } from '../../apps/broker/src/common/secrets';
import { dataSourceOptions } from '../../apps/broker/src/database/data-source';
import { migrate } from '../../apps/broker/src/database/prepare';
import { App as AppEntity } from '../../apps/broker/src/apps/app.entity';
import { AppCartridge } from '../../apps/broker/src/apps/app-cartridge.entity';
import { Gear } from '../../apps/broker/src/apps/gear.entity';
import { Deployment } from '../../apps/broker/src/apps/deployment.entity';
import { CartridgeRecord } from '../../apps/broker/src/cartridges/cartridge.entity';
import { Domain } from '../../apps/broker/src/domains/domain.entity';
import { Node as NodeEntity, NodeJoinToken } from '../../apps/broker/src/fleet/node.entity';
import { Operation } from '../../apps/broker/src/operations/operation.entity';
import { Alias } from '../../apps/broker/src/routes/alias.entity';
import { ApiToken, User as UserEntity } from '../../apps/broker/src/users/user.entity';
import { Team, TeamMember } from '../../apps/broker/src/teams/team.entity';
import { TeamsRepository } from '../../apps/broker/src/teams/teams.repository';
import { TeamPolicy } from '../../apps/broker/src/teams/team-policy.service';
import { DomainsService } from '../../apps/broker/src/domains/domains.service';
import { UnitOfWork } from '../../apps/broker/src/database/unit-of-work';
import { CHANGE_REPOS, type ChangeRepos } from '../../apps/broker/src/changes/change-runner';
import { CartridgesRepository } from '../../apps/broker/src/cartridges/cartridges.repository';
import { DeploymentsRepository } from '../../apps/broker/src/apps/deployments.repository';
import { CatalogService } from '../../apps/broker/src/cartridges/catalog.service';
import { GearSpecsService } from '../../apps/broker/src/apps/gear-specs.service';
import type { QueueService } from '../../apps/broker/src/queue/queue.service';
import type { RoutesService } from '../../apps/broker/src/routes/routes.service';
import { UsersRepository } from '../../apps/broker/src/users/users.repository';
import { DomainsRepository } from '../../apps/broker/src/domains/domains.repository';
import { NodesRepository } from '../../apps/broker/src/fleet/nodes.repository';
import { AppsRepository, type NewGear } from '../../apps/broker/src/apps/apps.repository';
import { OperationsRepository } from '../../apps/broker/src/operations/operations.repository';
import { OperationsService } from '../../apps/broker/src/operations/operations.service';
import { Leadership } from '../../apps/broker/src/leadership/leadership.service';
import { NodesService } from '../../apps/broker/src/nodes/nodes.service';
import type { App } from '../../apps/broker/src/apps/app.entity';
import type { Node } from '../../apps/broker/src/fleet/node.entity';
import type { User } from '../../apps/broker/src/users/user.entity';

/**
 * The medium test tier: the broker's services and repositories against a real Postgres (a database of their own,
 * migrated, dropped afterwards), with the queue and the routers replaced by fakes that record what they are asked.
 * No Redis, no Docker, no broker process.
 */

// The local Postgres over its Unix socket as the platform reaches it by default, unless GEARSHIFT_TEST_PG_URL names another.
const PG_ADMIN_URL = process.env.GEARSHIFT_TEST_PG_URL || withPostgresDatabase(DEFAULT_DATABASE_URL, 'postgres');

// The services' routine log lines (a drift repaired, an orphan removed) are what the tests assert; warnings still show.
Logger.overrideLogger(['warn', 'error']);

/** A job the broker sent to a node's queue. */
export interface SentJob<N extends NodeJobName = NodeJobName> {
  nodeId: string;
  name: N;
  data: NodeJobs[N];
  jobId?: string;
}

/** Stands in for QueueService: keeps the jobs it is given. */
export class FakeQueue {
  readonly sent: SentJob[] = [];
  readonly withdrawn: string[] = [];
  async send<N extends NodeJobName>(nodeId: string, name: N, data: NodeJobs[N], jobId?: string): Promise<void> {
    this.sent.push({ nodeId, name, data, jobId } as SentJob);
  }
  async withdraw(_nodeId: string, jobId: string): Promise<boolean> {
    this.withdrawn.push(jobId);
    return true;
  }
  async ensureNodeUser(nodeId: string): Promise<string> {
    return `node-${nodeId}`;
  }
  async removeNodeUser(): Promise<void> {}
  onReconnect(): void {}
  asService(): QueueService {
    return this as unknown as QueueService;
  }
}

/** Stands in for RoutesService: every router confirms every version at once. */
export class FakeRoutes {
  scheduled = 0;
  published = 0;
  schedule(): void {
    this.scheduled++;
  }
  async publishNow(): Promise<number> {
    return ++this.published;
  }
  async servedBy(): Promise<{ routers: number; late: string[] }> {
    return { routers: 1, late: [] };
  }
  asService(): RoutesService {
    return this as unknown as RoutesService;
  }
}

export interface MediumDb {
  uow: UnitOfWork;
  /** One transaction through the repositories a change to an app writes. */
  transaction<T>(work: (repos: ChangeRepos) => Promise<T>): Promise<T>;
  dataSource: DataSource;
  config: BrokerConfig;
  catalog: CatalogService;
  specs: GearSpecsService;
  queue: FakeQueue;
  routes: FakeRoutes;
  /** The broker's services as its modules would wire them, over this database and the fakes. */
  operationsService(): OperationsService;
  nodesService(): NodesService;
  /** A user, a domain of theirs, and a node, to hang apps on. */
  user: User;
  domainId: string;
  node: Node;
  addNode(name: string): Promise<Node>;
  /** An app with a Node.js web cartridge and these gears (on `node` unless said). */
  addApp(name: string, gears: Partial<NewGear>[], patch?: Partial<Pick<App, 'desiredState'>>): Promise<App>;
  close(): Promise<void>;
}

/** A migrated database of its own for one test file; close() drops it. */
export async function mediumDb(name: string): Promise<MediumDb> {
  const database = `gst_medium_${name.replace(/-/g, '_')}_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${database}`);
  await admin.end();
  const dataDir = mkdtempSync(join(tmpdir(), `gearshift-medium-${name}-`));
  const config = loadConfig({
    DATABASE_URL: withPostgresDatabase(PG_ADMIN_URL, database),
    GEARSHIFT_DATA_DIR: dataDir,
    GEARSHIFT_REGISTRY: '',
    GEARSHIFT_INSTANCE: `gsm${randomBytes(3).toString('hex')}`,
  });
  useSecretKey(randomBytes(32));
  const dataSource = new DataSource({
    ...dataSourceOptions(config.databaseUrl),
    // What the broker's feature modules register, each its own.
    entities: [
      UserEntity,
      ApiToken,
      Domain,
      AppEntity,
      AppCartridge,
      Gear,
      Deployment,
      NodeEntity,
      NodeJoinToken,
      Operation,
      CartridgeRecord,
      Alias,
      Team,
      TeamMember,
    ],
  });
  await dataSource.initialize();
  await migrate(dataSource);
  const uow = new UnitOfWork(dataSource);
  const m = dataSource.manager;
  const appsRepository = new AppsRepository(m);
  const catalog = new CatalogService(loadCatalog(config.cartridgesDir), appsRepository, new CartridgesRepository(m), config);
  const specs = new GearSpecsService(new DeploymentsRepository(m), new DomainsRepository(m), new NodesRepository(m), catalog, config);
  const user = (await new UsersRepository(m).create({ username: 'ann', passwordHash: 'x', isAdmin: false }, { maxGears: null, maxMemoryMb: null }))!;
  const teams = new TeamsRepository(m);
  const domain = (await new DomainsRepository(m).create('acme', user.id, (await teams.personalTeam(user.id))!.id))!;
  const domains = new DomainsService(new DomainsRepository(m), appsRepository, teams, new TeamPolicy(teams));
  const addNode = (n: string) => new NodesRepository(m).upsert(n, 4096, 20);
  const node = await addNode('node1');
  const web = [...catalog.cartridges.values()].find((c) => c.manifest.name.startsWith('nodejs'))!.manifest.name;
  const addApp = (appName: string, gears: Partial<NewGear>[], patch: Partial<Pick<App, 'desiredState'>> = {}) =>
    new AppsRepository(m).create(
      { domainId: domain.id, name: appName, desiredState: 'started', size: 'small', env: {}, ...patch } as never,
      [{ cartridge: web, generated: {} }],
      gears.map((g) => ({ cartridge: web, nodeId: node.id, memoryMb: 256, ...g })),
    );
  const queue = new FakeQueue();
  const routes = new FakeRoutes();
  return {
    uow,
    transaction: (work) => uow.run(CHANGE_REPOS, work),
    operationsService: () =>
      new OperationsService(
        uow,
        appsRepository,
        new OperationsRepository(m),
        queue.asService(),
        specs,
        routes.asService(),
        config,
        domains,
        new Metrics(),
        new Leadership(config),
      ),
    nodesService: () =>
      new NodesService(
        appsRepository,
        new NodesRepository(m),
        new OperationsRepository(m),
        queue.asService(),
        specs,
        routes.asService(),
        config,
        new Metrics(),
        catalog,
      ),
    dataSource,
    config,
    catalog,
    specs,
    queue,
    routes,
    user,
    domainId: domain.id,
    node,
    addNode,
    addApp,
    async close() {
      await dataSource.destroy();
      rmSync(dataDir, { recursive: true, force: true });
      await dropDatabase(database);
    },
  };
}
