import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import { In, type EntityManager } from 'typeorm';
import type { GearReport } from '@gearshift/cartridges';
import { App } from './app.entity';
import type { DomainApps } from '../domains/domain-apps';
import type { CartridgesInUse } from '../cartridges/cartridges-in-use';
import { AppCartridge } from './app-cartridge.entity';
import { Gear } from './gear.entity';
import { entityRows } from '../database/entity-rows';
import { sealedValues } from '../common/secrets';

export type NewGear = Pick<Gear, 'cartridge' | 'nodeId' | 'memoryMb'> & { deploymentId?: string | null; process?: string | null; service?: string | null };

/** New gears as the statements that insert them read them (see insertingGears). */
const gearRows = (gears: NewGear[]) =>
  JSON.stringify(
    gears.map((g) => ({
      cartridge: g.cartridge,
      node_id: g.nodeId,
      memory_mb: g.memoryMb,
      deployment_id: g.deploymentId ?? null,
      process: g.process ?? null,
      service: g.service ?? null,
    })),
  );

/**
 * A CTE (`inserted_gears`) that inserts the gears in parameter `$n` (gearRows) for the app `appId` (an expression),
 * in their order, every other column at its default: plain SQL, as the query builder took longer to write the
 * statement than Postgres took to run it.
 */
const insertingGears = (appId: string, n: number) => `inserted_gears as (
  insert into gears (app_id, cartridge, node_id, memory_mb, deployment_id, process, service)
  select ${appId}, g.cartridge, g.node_id, g.memory_mb, g.deployment_id, g.process, g.service
  from rows from (jsonb_to_recordset($${n}::jsonb) as (cartridge text, node_id uuid, memory_mb integer, deployment_id uuid, process text, service text))
    with ordinality as g(cartridge, node_id, memory_mb, deployment_id, process, service, i)
  order by g.i
)`;

@Injectable()
export class AppsRepository implements DomainApps, CartridgesInUse {
  constructor(@InjectEntityManager() private readonly m: EntityManager) {}

  /**
   * Apps that `rest` (a where clause and an order on `a`) selects, without their parts. Apps, cartridges and gears
   * are read in plain SQL (entityRows): every request about an app, every operation sent, every route table and every
   * heartbeat that compares an app reads them.
   */
  private async apps(rest: string, params: unknown[]): Promise<App[]> {
    const rows = entityRows(this.m, App, 'a');
    return ((await this.m.query(`select ${rows.fields} from apps a ${rest}`, params)) as Record<string, unknown>[]).map(rows.of);
  }

  /** Cartridges that `where` (on `c`) selects, in the order they were added. */
  private async cartridges(where: string, params: unknown[]): Promise<AppCartridge[]> {
    const rows = entityRows(this.m, AppCartridge, 'c');
    return ((await this.m.query(`select ${rows.fields} from app_cartridges c ${where} order by c.created_at`, params)) as Record<string, unknown>[]).map(
      rows.of,
    );
  }

  /** Gears that `where` (on `g`) selects, in the order they were placed. */
  private async gears(where: string, params: unknown[]): Promise<Gear[]> {
    const rows = entityRows(this.m, Gear, 'g');
    return ((await this.m.query(`select ${rows.fields} from gears g ${where} order by g.created_at`, params)) as Record<string, unknown>[]).map(rows.of);
  }

  async list(domainId: string): Promise<App[]> {
    return this.withParts(await this.apps('where a.domain_id = $1 order by a.name', [domainId]), { domainId });
  }

  /**
   * Gives apps their cartridges and gears, read with one query each. A join would repeat every app's row (its sealed
   * environment among it) once per gear and cartridge: with thousands of gears, most of what Postgres sends and the
   * broker parses and collects. `scope` narrows the two queries to the apps' domain, or to all apps when it is empty.
   */
  private async withParts(apps: App[], scope: { domainId?: string; ids?: string[] }): Promise<App[]> {
    if (apps.length === 0) return apps;
    const params = scope.ids ? [scope.ids] : scope.domainId ? [scope.domainId] : [];
    const where = (alias: string) =>
      scope.ids ? `where ${alias}.app_id = any($1)` : scope.domainId ? `where ${alias}.app_id in (select id from apps where domain_id = $1)` : '';
    // Both reads go to Postgres together: each turn of a busy broker's event loop between them adds to every request.
    const [cartridges, gears] = await Promise.all([this.cartridges(where('c'), params), this.gears(where('g'), params)]);
    const byApp = new Map(apps.map((a) => [a.id, a]));
    for (const a of apps) {
      a.cartridges = [];
      a.gears = [];
    }
    for (const c of cartridges) byApp.get(c.appId)?.cartridges!.push(c);
    for (const g of gears) byApp.get(g.appId)?.gears!.push(g);
    return apps;
  }

  /**
   * One app with its cartridges and gears, in three plain reads: a read with both relations joined makes TypeORM ask
   * for the distinct app first and then hydrate a row per gear and cartridge pair, which was a tenth of a busy
   * broker's time (every request about an app, every operation sent, reads one).
   */
  private async one(where: { id: string } | { domainId: string; name: string }): Promise<App | null> {
    if ('id' in where) {
      // Known by id, its parts are read with it, in one turn.
      const [[app], cartridges, gears] = await Promise.all([
        this.apps('where a.id = $1', [where.id]),
        this.cartridges('where c.app_id = $1', [where.id]),
        this.gears('where g.app_id = $1', [where.id]),
      ]);
      return app ? Object.assign(app, { cartridges, gears }) : null;
    }
    const [app] = await this.apps('where a.domain_id = $1 and a.name = $2', [where.domainId, where.name]);
    return app ? (await this.withParts([app], { ids: [app.id] }))[0] : null;
  }

  findByName(domainId: string, name: string): Promise<App | null> {
    return this.one({ domainId, name });
  }

  findById(id: string): Promise<App | null> {
    return this.one({ id });
  }

  countInDomain(domainId: string): Promise<number> {
    return this.m.count(App, { where: { domainId } });
  }

  /** How many gears are in each state on each node (for the metrics). */
  async gearStates(): Promise<{ nodeId: string; state: string; count: number }[]> {
    const rows: { node_id: string; state: string; n: string }[] = await this.m
      .createQueryBuilder(Gear, 'g')
      .select('g.node_id', 'node_id')
      .addSelect('g.state', 'state')
      .addSelect('count(*)', 'n')
      .groupBy('g.node_id')
      .addGroupBy('g.state')
      .getRawMany();
    return rows.map((r) => ({ nodeId: r.node_id, state: r.state, count: Number(r.n) }));
  }

  /** Every app's name and its domain's, by app id (for the metrics' labels). */
  async names(): Promise<Map<string, { app: string; domain: string }>> {
    const rows = (await this.m.query('select a.id, a.name as app, d.name as domain from apps a join domains d on d.id = a.domain_id')) as {
      id: string;
      app: string;
      domain: string;
    }[];
    return new Map(rows.map((r) => [r.id, { app: r.app, domain: r.domain }]));
  }

  /** The names of the cartridges some app embeds. */
  async cartridgesInUse(): Promise<Set<string>> {
    const rows: { cartridge: string }[] = await this.m.createQueryBuilder(AppCartridge, 'c').select('distinct c.cartridge', 'cartridge').getRawMany();
    return new Set(rows.map((r) => r.cartridge));
  }

  /** Apps that scale or idle by themselves, or have web services that autoscale. */
  managedByTraffic(): Promise<App[]> {
    return this.m
      .createQueryBuilder(App, 'a')
      .leftJoinAndSelect('a.gears', 'g')
      .leftJoinAndSelect('a.cartridges', 'c')
      .where(
        "(a.autoscale_max is not null or a.idle_after_seconds is not null or jsonb_path_exists(a.services, '$.*.autoscale')) and a.desired_state in ('started', 'idle')",
      )
      .getMany();
  }

  /** Every app with its gears and cartridges (for the route table). */
  async ids(): Promise<string[]> {
    return (await this.m.find(App, { select: { id: true } })).map((a) => a.id);
  }

  async all(): Promise<App[]> {
    return this.withParts(await this.apps('', []), {});
  }

  async findByIds(ids: string[]): Promise<App[]> {
    if (ids.length === 0) return [];
    return this.withParts(await this.apps('where a.id = any($1)', [ids]), { ids });
  }

  async create(
    app: Pick<App, 'domainId' | 'name' | 'desiredState' | 'size' | 'env'>,
    cartridges: (Pick<AppCartridge, 'cartridge' | 'generated'> & { options?: AppCartridge['options'] })[],
    gears: NewGear[],
  ): Promise<App> {
    return (await this.findById(await this.insert(app, cartridges, gears)))!;
  }

  /**
   * Writes a new app's rows, as create() does, and returns its id without reading the app back. The app and its
   * cartridges are one statement (a create waits for one round trip, not two); the environment and the generated
   * values are sealed as the entities' columns seal them.
   */
  async insert(
    app: Pick<App, 'domainId' | 'name' | 'desiredState' | 'size' | 'env'>,
    cartridges: (Pick<AppCartridge, 'cartridge' | 'generated'> & { options?: AppCartridge['options'] })[],
    gears: NewGear[],
  ): Promise<string> {
    const rows = cartridges.map((c) => ({ cartridge: c.cartridge, generated: sealedValues.to(c.generated), options: c.options ?? {} }));
    const [{ id }]: { id: string }[] = await this.m.query(
      `with app as (
         insert into apps (domain_id, name, desired_state, size, env) values ($1, $2, $3, $4, $5) returning id
       ), cartridges as (
         insert into app_cartridges (app_id, cartridge, generated, options)
         select app.id, c.cartridge, c.generated, c.options
         from app, rows from (jsonb_to_recordset($6::jsonb) as (cartridge text, generated jsonb, options jsonb)) with ordinality as c(cartridge, generated, options, n)
         order by c.n
       ), ${insertingGears('(select id from app)', 7)}
       select id from app`,
      [app.domainId, app.name, app.desiredState, app.size, JSON.stringify(sealedValues.to(app.env ?? {})), JSON.stringify(rows), gearRows(gears)],
    );
    return id;
  }

  /** The embedded cartridges of these names, in every app, with the values they generated. */
  embedded(cartridges: string[]): Promise<AppCartridge[]> {
    if (cartridges.length === 0) return Promise.resolve([]);
    return this.m.find(AppCartridge, { where: { cartridge: In(cartridges) } });
  }

  /**
   * Stores the generated values of an embedded cartridge, and marks its app changed (the spec cache keys on that).
   * Only when they are still `before`: of brokers starting together, one fills them in.
   */
  async setGenerated(row: AppCartridge, generated: Record<string, string>): Promise<boolean> {
    const fresh = await this.m.findOne(AppCartridge, { where: { id: row.id }, lock: { mode: 'pessimistic_write' } });
    if (!fresh || JSON.stringify(fresh.generated) !== JSON.stringify(row.generated)) return false;
    await this.m.update(AppCartridge, { id: row.id }, { generated });
    await this.m.update(App, { id: row.appId }, { updatedAt: new Date() });
    return true;
  }

  async addCartridge(
    appId: string,
    cartridge: Pick<AppCartridge, 'cartridge' | 'generated'> & { options?: AppCartridge['options'] },
    gears: NewGear[],
  ): Promise<void> {
    await this.m.insert(AppCartridge, { ...cartridge, appId });
    await this.addGears(appId, gears);
  }

  async removeCartridge(appId: string, cartridge: string): Promise<void> {
    await this.m.delete(Gear, { appId, cartridge });
    await this.m.delete(AppCartridge, { appId, cartridge });
  }

  /**
   * Another version of the same runtime takes a cartridge's place: the app's row and its gears are renamed, so the
   * gears keep serving what they run until a deployment replaces them.
   */
  async replaceCartridge(appId: string, from: string, to: Pick<AppCartridge, 'cartridge' | 'generated'>): Promise<void> {
    await this.m.update(AppCartridge, { appId, cartridge: from }, { cartridge: to.cartridge, generated: to.generated });
    await this.m.update(Gear, { appId, cartridge: from }, { cartridge: to.cartridge });
  }

  /** An app's settings for one of its cartridges. */
  async setCartridgeOptions(appId: string, cartridge: string, options: AppCartridge['options']): Promise<void> {
    await this.m.update(AppCartridge, { appId, cartridge }, { options });
  }

  /** Marks an embedded cartridge replaced by an upgrade (its gear stops, its volume stays), or (null) serving again. */
  async supersede(appId: string, cartridge: string, by: string | null): Promise<void> {
    await this.m.update(AppCartridge, { appId, cartridge }, { supersededBy: by });
  }

  async addGears(appId: string, gears: NewGear[]): Promise<void> {
    if (gears.length > 0) await this.m.query(`with ${insertingGears('$1::uuid', 2)} select 1`, [appId, gearRows(gears)]);
  }

  async removeGears(ids: string[]): Promise<void> {
    if (ids.length > 0) await this.m.delete(Gear, { id: In(ids) });
  }

  async update(
    id: string,
    fields: Partial<
      Pick<
        App,
        | 'desiredState'
        | 'env'
        | 'size'
        | 'autoscaleMin'
        | 'autoscaleMax'
        | 'autoscaleTarget'
        | 'idleAfterSeconds'
        | 'lastScaledAt'
        | 'activeDeploymentId'
        | 'health'
        | 'securityOverride'
        | 'degraded'
        | 'services'
      >
    >,
  ): Promise<void> {
    await this.m.update(App, { id }, fields);
  }

  /** Points web gears at a release (for apps that are not serving, where no rollout is needed). */
  async setRelease(ids: string[], deploymentId: string): Promise<void> {
    if (ids.length > 0) await this.m.update(Gear, { id: In(ids) }, { deploymentId });
  }

  async bumpGenerations(appId: string, cartridges?: string[]): Promise<void> {
    const qb = this.m
      .createQueryBuilder()
      .update(Gear)
      .set({ generation: () => 'generation + 1' })
      .where('app_id = :appId', { appId });
    if (cartridges) qb.andWhere('cartridge in (:...cartridges)', { cartridges });
    await qb.execute();
  }

  async delete(id: string): Promise<void> {
    await this.m.delete(App, { id });
  }

  /**
   * Assigns a gear to another node under a new epoch (its fencing token): the node it leaves is told, when it comes
   * back, that the gear is no longer its own. Until the new node reports, the gear has no container.
   */
  async reassignGear(id: string, nodeId: string): Promise<void> {
    await this.m
      .createQueryBuilder()
      .update(Gear)
      .set({ nodeId, epoch: () => 'epoch + 1', state: 'starting', ports: {}, inside: null, containerId: null, message: null })
      .where('id = :id', { id })
      .execute();
  }

  /** Where these gears (reported by a node) are assigned now, under which epoch; a gear that is gone has no row. */
  async assignments(ids: string[]): Promise<{ id: string; appId: string; nodeId: string; epoch: number }[]> {
    if (ids.length === 0) return [];
    return this.m.find(Gear, { select: { id: true, appId: true, epoch: true, nodeId: true }, where: { id: In(ids) } });
  }

  /** Of these app ids, the ones of apps that exist. */
  async existing(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    return new Set((await this.m.find(App, { select: { id: true }, where: { id: In(ids) } })).map((a) => a.id));
  }

  /** Apps marked degraded (their data was on a lost node). */
  degradedApps(): Promise<App[]> {
    return this.m.createQueryBuilder(App, 'a').where('a.degraded is not null').getMany();
  }

  /**
   * Each app with a gear on the node: the version of what it should run (`desired_seq`: its row, every gear of it
   * with the address of its node and its release's image, its cartridges), the version of all that is stored of it
   * (`change_seq`: what the nodes report of its gears too), and its gears placed on the node. Postgres keeps both
   * numbers (migration AppVersions): a node's apps are read whole only when one of them moved. What the nodes report
   * of a gear is left out of the first: the heartbeat compares it with the report itself, and storing a report must
   * not make the next beat compare again. With the first, the second tells whether an app read earlier is still the
   * app as stored.
   */
  async desiredOnNode(nodeId: string): Promise<{ appId: string; desired: string; stored: string; gearIds: string[] }[]> {
    const rows = (await this.m.query(
      `select g.app_id, a.desired_seq, a.change_seq, array_agg(g.id order by g.id) as gear_ids
         from gears g join apps a on a.id = g.app_id
        where g.node_id = $1
        group by g.app_id, a.desired_seq, a.change_seq`,
      [nodeId],
    )) as { app_id: string; desired_seq: string; change_seq: string; gear_ids: string[] }[];
    return rows.map((r) => ({ appId: r.app_id, desired: String(r.desired_seq), stored: String(r.change_seq), gearIds: r.gear_ids }));
  }

  /**
   * Every app's version: a number that moves whenever anything stored of it changes (its row, its gears with their
   * nodes' names, addresses and loss, its cartridges, the releases its gears run, its latest deployment), which is
   * all its routes are made of. Postgres keeps it with triggers (migration AppVersions); the route table reads again
   * only the apps whose number moved.
   */
  async routeVersions(): Promise<Map<string, string>> {
    const rows = (await this.m.query('select id, change_seq from apps')) as { id: string; change_seq: string }[];
    return new Map(rows.map((r) => [r.id, String(r.change_seq)]));
  }

  async appIdsOnNode(nodeId: string): Promise<string[]> {
    const rows: { app_id: string }[] = await this.m
      .createQueryBuilder(Gear, 'g')
      .select('distinct g.app_id', 'app_id')
      .where('g.node_id = :nodeId', { nodeId })
      .getRawMany();
    return rows.map((r) => r.app_id);
  }

  /** Marks the gears of an app on a node that a failed operation left without a container. */
  async markFailed(appId: string, nodeId: string, except: string[], message: string): Promise<void> {
    const qb = this.m
      .createQueryBuilder()
      .update(Gear)
      .set({ state: 'failed', message: message.slice(0, 2000) })
      .where('app_id = :appId and node_id = :nodeId', { appId, nodeId });
    if (except.length > 0) qb.andWhere('id not in (:...except)', { except });
    await qb.execute();
  }

  /** Stores what a node reported of its gears; a report for a gear that moved or went away is ignored. */
  async recordGearReports(nodeId: string, reports: GearReport[]): Promise<void> {
    if (reports.length === 0) return;
    // One statement for the node's whole report: a node starting hundreds of gears reports them together. A gear
    // reported twice keeps its last report, as it would one statement after the other.
    const last = new Map(reports.map((r) => [r.gearId, r]));
    const rows = [...last.values()].map((r) => ({
      id: r.gearId,
      state: r.state,
      ports: r.ports,
      inside: r.inside ?? null,
      container_id: r.containerId ?? null,
      message: r.message ?? null,
    }));
    await this.m.query(
      `update gears g set state = r.state, ports = r.ports, inside = r.inside, container_id = r.container_id, message = r.message, updated_at = now()
         from jsonb_to_recordset($2::jsonb) as r(id uuid, state text, ports jsonb, inside jsonb, container_id text, message text)
        where g.id = r.id and g.node_id = $1`,
      [nodeId, JSON.stringify(rows)],
    );
  }
}
