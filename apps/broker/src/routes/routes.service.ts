import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import IORedis from 'ioredis';
import { failureHeadline } from '../apps/deployment-failure';
import { createHash } from 'node:crypto';
import {
  routersKey,
  routesChannel,
  routesKey,
  routeSealingKey,
  sealRouteSecret,
  serviceTrafficKey,
  sumTraffic,
  trafficKey,
  type AppRoute,
  type AppTraffic,
  type RouteBackend,
  type RouterAck,
} from '@gearshift/cartridges';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { loadSecretKey } from '../common/secrets';
import { UnitOfWork } from '../database/unit-of-work';
import { AliasesRepository } from './aliases.repository';
import { AppsRepository } from '../apps/apps.repository';
import { DeploymentsRepository } from '../apps/deployments.repository';
import { NodesRepository } from '../fleet/nodes.repository';
import { CatalogService } from '../cartridges/catalog.service';
import { GearSpecsService } from '../apps/gear-specs.service';
import { appHostService, gearHealth, routeHealth, serviceHealth, type AppShape, type GearRelease } from '../apps/gear-specs';
import type { ReleaseService } from '../apps/deployment.entity';
import type { App } from '../apps/app.entity';
import type { Gear } from '../apps/gear.entity';
import type { Node } from '../fleet/node.entity';
import type { Alias } from './alias.entity';

/** The release the app serves, as its web gears run it. */
function activeRelease(app: App, shape: AppShape): GearRelease | undefined {
  const gear = (app.gears ?? []).find((g) => g.deploymentId !== null && g.deploymentId === app.activeDeploymentId);
  return gear ? shape.gears.find((g) => g.id === gear.id)?.release : undefined;
}

/**
 * The web service of an app of named services that answers at its host name (the one without hosts), as the
 * release it serves describes it (or, before its first release serves, the one rolling out).
 */
function appHostServiceOf(app: App, shape: AppShape): { name: string; service: ReleaseService } | undefined {
  const releases = shape.gears.filter((g) => g.service && g.release?.services);
  const active = app.gears?.find((g) => g.service && g.deploymentId === app.activeDeploymentId);
  const release = (active ? shape.gears.find((g) => g.id === active.id) : releases[0])?.release;
  const name = appHostService(release?.services ?? {});
  return name ? { name, service: release!.services![name] } : undefined;
}

/** A web service of the app as the release it serves describes it (or, before that release serves, the newest). */
function serviceOf(app: App, shape: AppShape, name: string): ReleaseService | undefined {
  const gears = (app.gears ?? []).filter((g) => g.service === name);
  const serving = gears.find((g) => g.deploymentId === app.activeDeploymentId) ?? gears[gears.length - 1];
  return serving ? shape.gears.find((g) => g.id === serving.id)?.release?.services?.[name] : undefined;
}

/**
 * Publishes the route table (host names → healthy web gears) in Redis whenever gears or aliases change, and every
 * few seconds in any case, so that a router that was away catches up. Every broker publishes (after the changes it
 * makes, and every few seconds), one broker at a time (see publish()).
 */
@Injectable()
export class RoutesService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('routes');
  private readonly redis: IORedis;
  private timer?: NodeJS.Timeout;
  private periodic?: NodeJS.Timeout;
  private lastJson = '';
  private lastVersion = 0;
  /** How long the last publication took: the next one waits at least as long (see schedule()). */
  private lastPublishMs = 0;
  /** Publications one after the other, so that a newer table is never overwritten by an older one. */
  private publishing: Promise<unknown> = Promise.resolve();
  /** The publication asked for that has not begun reading yet: whoever asks now is served by it (see publishNow()). */
  private next?: Promise<number>;
  /** Seals certificates and keys for the router (see sealRouteSecret). */
  private readonly tlsKey: Buffer;
  /**
   * Each certificate's sealed form, by the digest of its PEM: sealed once, so that an unchanged table stays the same
   * text and is not published again.
   */
  private sealedPems = new Map<string, string>();
  /** Each app's routes as last built, under the key of what they were built from (see table()). */
  private readonly appRoutes = new Map<string, { key: string; json: string }>();

  constructor(
    private readonly aliasesRepository: AliasesRepository,
    private readonly appsRepository: AppsRepository,
    private readonly deploymentsRepository: DeploymentsRepository,
    private readonly nodesRepository: NodesRepository,
    private readonly catalog: CatalogService,
    private readonly specs: GearSpecsService,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    private readonly uow: UnitOfWork,
  ) {
    this.redis = new IORedis(config.redisUrl, { maxRetriesPerRequest: 2, lazyConnect: false });
    this.redis.on('error', (err) => this.logger.warn(`redis: ${err.message}`));
    this.tlsKey = routeSealingKey(loadSecretKey(config.secretKey, config.dataDir));
  }

  private sealPem(pem: string): string {
    const digest = createHash('sha256').update(pem).digest('hex');
    let sealed = this.sealedPems.get(digest);
    if (!sealed) {
      if (this.sealedPems.size > 10_000) this.sealedPems = new Map();
      sealed = sealRouteSecret(this.tlsKey, pem);
      this.sealedPems.set(digest, sealed);
    }
    return sealed;
  }

  onApplicationBootstrap(): void {
    this.schedule();
    this.periodic = setInterval(() => this.schedule(), 5000);
  }

  onModuleDestroy(): void {
    clearInterval(this.periodic);
    clearTimeout(this.timer);
    this.redis.disconnect();
  }

  /**
   * Asks for a new table soon; several changes close together make one publication. It waits eight times as long as
   * the last publication took: while thousands of gears start, each gear's report would otherwise ask for a table of
   * its own, and reading, building and sending them would take most of the broker's time; this way tables take at
   * most a ninth of it (a small platform's take a few ms, within the 25 ms floor). What must reach the routers at once
   * (an operation's end, a lost node) is published with publishNow(), which does not wait.
   */
  schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.publishNow().catch((err: Error) => this.logger.warn(`publishing routes failed: ${err.message}`));
      },
      Math.max(25, Math.min(this.lastPublishMs * 8, 2000)),
    );
  }

  /**
   * Publishes the table as the database has it now; resolves with the version the routers will serve it under.
   * Callers that ask while one publication runs share the next one, which reads the database after all of them asked:
   * a thousand operations ending together wait for a few tables, not for a thousand read one after the other.
   */
  publishNow(): Promise<number> {
    if (this.next) return this.next;
    const run = this.publishing.then(() => {
      this.next = undefined;
      return this.publish();
    });
    this.next = run;
    this.publishing = run.catch(() => undefined);
    return run;
  }

  /**
   * Waits until every live router serves routes `version` (or newer), for at most `timeoutMs`. A router that has
   * not said anything for `GONE_MS` is gone (stopped, or dead and not yet back) and not waited for; one that dies
   * during the wait is what the bound is for. Resolves with the routers that did not confirm in time.
   */
  async servedBy(version: number, timeoutMs: number): Promise<{ routers: number; late: string[] }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = Date.now();
      const acks = Object.entries(await this.redis.hgetall(routersKey(this.config.instance)))
        .map(([name, json]) => ({ name, ack: parseAck(json) }))
        .filter((r) => r.ack && now - r.ack.at < GONE_MS);
      const late = acks.filter((r) => r.ack!.version < version).map((r) => r.name);
      if (late.length === 0 || now >= deadline) return { routers: acks.length, late };
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * The routes of every app as the database has them now, as the JSON text of the table's `apps`, in the order of
   * their app ids. Each app's routes are built again only when what they are made of changed (its route version in
   * Postgres moved, see AppsRepository.routeVersions; its aliases and the catalogue are compared here), and kept as
   * text: reading and building every app of ten thousand gears on every change took most of the broker's time while
   * gears started.
   */
  private async routesText(): Promise<string> {
    const [versions, aliases, nodes] = await Promise.all([this.appsRepository.routeVersions(), this.aliasesRepository.all(), this.nodesRepository.all()]);
    const nodeOf = new Map(nodes.map((n) => [n.id, n]));
    const aliasesOf = new Map<string, Alias[]>();
    for (const a of aliases) aliasesOf.set(a.appId, [...(aliasesOf.get(a.appId) ?? []), a]);
    const catalog = this.catalog.fingerprint();
    const keyOf = (appId: string, version: string) =>
      `${version}|${catalog}|${JSON.stringify((aliasesOf.get(appId) ?? []).map((a) => [a.id, a.host, a.service, a.certificate, a.privateKey]))}`;
    const keys = new Map([...versions].map(([id, version]) => [id, keyOf(id, version)]));
    for (const id of this.appRoutes.keys()) if (!keys.has(id)) this.appRoutes.delete(id);
    // An app changed after its version was read is built as it is now, under the older key: the next table builds it again.
    const changed = await this.appsRepository.findByIds([...keys].filter(([id, key]) => this.appRoutes.get(id)?.key !== key).map(([id]) => id));
    for (const app of changed) {
      const routes = await this.routesOf(app, aliasesOf.get(app.id) ?? [], nodeOf);
      this.appRoutes.set(app.id, { key: keys.get(app.id)!, json: routes.map((r) => JSON.stringify(r)).join(',') });
    }
    const ids = [...this.appRoutes.keys()].sort((a, b) => a.localeCompare(b));
    return `[${ids
      .map((id) => this.appRoutes.get(id)!.json)
      .filter(Boolean)
      .join(',')}]`;
  }

  /** The routes of one app: its web services' own host names, then the app's. */
  private async routesOf(app: App, aliases: Alias[], nodeOf: Map<string, Node>): Promise<AppRoute[]> {
    const routes: AppRoute[] = [];
    if (app.desiredState === 'deleting') return routes;
    const shape = await this.specs.shapeOf(app);
    const web = this.catalog.webOf(shape.cartridges.map((c) => c.name));
    const state = app.desiredState === 'stopped' ? 'stopped' : app.desiredState === 'idle' ? 'idle' : 'serving';
    const failure = app.desiredState === 'stopped' && !app.activeDeploymentId ? await this.firstDeploymentFailure(app.id) : undefined;
    // Its web services' own host names, each a route of its own to that service's gears.
    const held = aliases.filter((a) => a.appId === app.id && a.service);
    for (const service of [...new Set(held.map((a) => a.service!))].sort()) {
      const release = serviceOf(app, shape, service);
      routes.push({
        appId: app.id,
        app: app.name,
        domain: shape.domain,
        service,
        hosts: held.filter((a) => a.service === service).map((a) => a.host),
        state,
        ...(failure ? { failure } : {}),
        health: release ? routeHealth(serviceHealth(release)) : null,
        backends: this.backendsOf(app, (g) => g.service === service, 'http', nodeOf),
        tls: this.tlsOf(held.filter((a) => a.service === service)),
      });
    }
    // An app of named services only: its web service without hosts of its own answers at the app's host name.
    const hostService = web ? undefined : appHostServiceOf(app, shape);
    // An app of services whose first deployment failed has no web service yet: its host name still says why it
    // does not serve, as a cartridge app's does.
    if (!web && !hostService && !failure) return routes;
    const http = web?.manifest.endpoints.find((e) => e.protocol === 'http' && e.public);
    const own = aliases.filter((a) => a.appId === app.id && !a.service);
    routes.push({
      appId: app.id,
      app: app.name,
      domain: shape.domain,
      hosts: [`${app.name}-${shape.domain}.${this.config.appsDomain}`, ...own.map((a) => a.host)],
      state,
      ...(failure ? { failure } : {}),
      // One check per backend in HAProxy, so one per app: the active release's. A new release's gears passed their
      // own check at the agent before traffic moves to them, and the route table takes the new check with it.
      health: web
        ? routeHealth(gearHealth(web, shape.cartridges.find((c) => c.name === web.manifest.name)?.options, activeRelease(app, shape)))
        : hostService
          ? routeHealth(serviceHealth(hostService.service))
          : null,
      backends:
        (web && http) || hostService
          ? this.backendsOf(app, (g) => (web ? g.cartridge === web.manifest.name && !g.service : g.service === hostService!.name), http?.name ?? 'http', nodeOf)
          : [],
      tls: this.tlsOf(own),
    });
    return routes;
  }

  /** The certificates of the host names that have one, sealed for the routers. */
  private tlsOf(aliases: Alias[]): AppRoute['tls'] {
    return aliases
      .filter((a) => a.certificate && a.privateKey)
      .map((a) => ({ host: a.host, pem: this.sealPem(`${a.certificate!.trim()}\n${a.privateKey!.trim()}\n`) }));
  }

  /** The running gears of the app that `pick` chooses, where a router reaches them on their endpoint `port`. */
  private backendsOf(app: App, pick: (g: Gear) => boolean, port: string, nodeOf: Map<string, Node>): RouteBackend[] {
    return (
      (app.gears ?? [])
        .filter(pick)
        // A lost node's gears leave at once: the broker's word reaches the routers before their own checks fail.
        .filter((g) => g.state === 'running' && g.ports[port] && !nodeOf.get(g.nodeId)?.lostAt)
        .sort((a, b) => a.id.localeCompare(b.id))
        .map((g) => {
          const inside = g.inside?.ports[port] ? { host: g.inside.address, port: g.inside.ports[port] } : undefined;
          return {
            gearId: g.id,
            node: nodeOf.get(g.nodeId)?.name ?? '',
            host: nodeOf.get(g.nodeId)?.address ?? '127.0.0.1',
            port: g.ports[port],
            ...(inside ? { inside } : {}),
          };
        })
    );
  }

  /** The reason an app that never served a release stopped: its latest deployment failed (see DeploymentStages). */
  private async firstDeploymentFailure(appId: string): Promise<string | undefined> {
    const [latest] = await this.deploymentsRepository.forApp(appId, 1);
    if (latest?.state !== 'failed') return undefined;
    return failureHeadline(latest.error);
  }

  /** What the routers last saw of each app's traffic, all of an app's routers together; stopped routers' fields expire. */
  async traffic(): Promise<Map<string, AppTraffic>> {
    const { apps, expired } = sumTraffic(await this.redis.hgetall(trafficKey(this.config.instance)));
    if (expired.length > 0) await this.redis.hdel(trafficKey(this.config.instance), ...expired);
    return apps;
  }

  /** What the routers last saw of each web service with host names of its own, by serviceTrafficId. */
  async serviceTraffic(): Promise<Map<string, AppTraffic>> {
    const { apps, expired } = sumTraffic(await this.redis.hgetall(serviceTrafficKey(this.config.instance)));
    if (expired.length > 0) await this.redis.hdel(serviceTrafficKey(this.config.instance), ...expired);
    return apps;
  }

  /**
   * Reads the table and writes it to Redis under a lock that every broker takes: each publication reads the database
   * after the one before it was written, so a table read earlier never overwrites one read later, and "the routers
   * serve version N or newer" means they serve what the database held when N was read, whichever broker wrote it.
   */
  private async publish(): Promise<number> {
    const started = performance.now();
    try {
      return await this.uow.run({}, () => this.publishLocked(), 'routes');
    } finally {
      this.lastPublishMs = performance.now() - started;
    }
  }

  private async publishLocked(): Promise<number> {
    const json = await this.routesText();
    const current = await this.publishedVersion();
    // Unchanged, and still this broker's table: nothing to send.
    if (json === this.lastJson && current === this.lastVersion) return this.lastVersion;
    // Versions only grow, across brokers and even if a clock steps back: routers confirm "this version or newer".
    const version = Math.max(Date.now(), this.lastVersion + 1, current + 1);
    // The text of a route table (RouteTable), its version first (see publishedVersion).
    await this.redis.set(routesKey(this.config.instance), `{"version":${version},"apps":${json}}`);
    await this.redis.publish(routesChannel(this.config.instance), String(version));
    this.lastJson = json;
    this.lastVersion = version;
    return version;
  }

  /** The version of the table in Redis (0 when there is none), read from the start of its text, where it is written. */
  private async publishedVersion(): Promise<number> {
    const head = await this.redis.getrange(routesKey(this.config.instance), 0, 40);
    return Number(/^\{"version":(\d+)/.exec(head)?.[1] ?? 0);
  }
}

/** Routers confirm at least every few seconds; one silent for this long has stopped. */
const GONE_MS = 15_000;

function parseAck(json: string): RouterAck | null {
  try {
    const ack = JSON.parse(json) as RouterAck;
    return typeof ack?.version === 'number' && typeof ack.at === 'number' ? ack : null;
  } catch {
    return null;
  }
}
