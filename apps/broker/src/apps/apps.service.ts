import { Inject, Injectable, Logger } from '@nestjs/common';
import { descriptorEnv, entryName, entryOptions, GEAR_SIZES, type AppDescriptor, type Cartridge, type GearSize } from '@gearshift/cartridges';
import type { AppState, PlanItem } from '../apply/plan';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { CertificateAuthority } from '../common/certificates';
import { conflict, GearshiftError, notFound, ruleViolation } from '../common/errors';
import { CatalogService } from '../cartridges/catalog.service';
import { UnitOfWork, type Repositories } from '../database/unit-of-work';
import { AliasesRepository } from '../routes/aliases.repository';
import { AppsRepository } from './apps.repository';
import { DeploymentsRepository } from '../deployments/deployments.repository';
import { NodesRepository } from '../nodes/nodes.repository';
import { OperationsRepository } from '../operations/operations.repository';
import { DomainsService } from '../domains/domains.service';
import type { Domain } from '../domains/domain.entity';
import { placeGears, servicesReachableElsewhere, type NodeCandidate } from '../nodes/placement';
import { OperationsService, presentOperation } from '../operations/operations.service';
import type { Operation } from '../operations/operation.entity';
import type { User } from '../users/user.entity';
import type { App } from './app.entity';
import type { AppAction, CreateAppBody, PatchAppBody, ScaleBody } from './apps.dto';
import { checkCartridgeSet, checkOptions, checkScale, checkSize, isWeb } from './cartridge-rules';
import type { NewGear } from './apps.repository';
import { publishedVars, type AppShape } from './gear-specs';
import { shapeCartridges } from './gear-specs.service';
import { generatedFor } from './generated-values';
import { RoutesService } from '../routes/routes.service';
import type { ConfigRollout } from '../operations/rollout';
import { checkAliasHost } from '../routes/aliases.service';

const REPOS = { aliases: AliasesRepository, apps: AppsRepository, deployments: DeploymentsRepository, nodes: NodesRepository, operations: OperationsRepository };
type Repos = Repositories<typeof REPOS>;

/** Shown instead of a secret value that was not asked to be revealed. */
export const SECRET_MASK = '********';

/** What a change to an app did besides its rows: extra nodes to converge, and how its operation goes on. */
type Change = string[] | { nodes: string[]; context: Operation['context'] } | void;

const isUniqueViolation = (err: unknown) => (err as { code?: string })?.code === '23505';

/** Derived from the gears: what a person wants to know at a glance. */
function statusOf(app: App): string {
  if (app.desiredState === 'deleting') return 'deleting';
  if (app.desiredState === 'idle') return 'idle';
  const states = (app.gears ?? []).map((g) => g.state);
  if (states.length === 0) return app.desiredState;
  if (app.desiredState === 'stopped') return states.every((s) => s === 'stopped' || s === 'missing') ? 'stopped' : 'stopping';
  if (states.every((s) => s === 'running')) return 'running';
  if (states.some((s) => s === 'failed')) return 'failed';
  return 'starting';
}

@Injectable()
export class AppsService {
  private readonly logger = new Logger('apps');

  constructor(
    private readonly uow: UnitOfWork,
    private readonly aliasesRepository: AliasesRepository,
    private readonly appsRepository: AppsRepository,
    private readonly deploymentsRepository: DeploymentsRepository,
    private readonly nodesRepository: NodesRepository,
    private readonly operationsRepository: OperationsRepository,
    private readonly catalog: CatalogService,
    private readonly domains: DomainsService,
    private readonly operations: OperationsService,
    private readonly routes: RoutesService,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    private readonly ca: CertificateAuthority,
  ) {}

  // ---- reading -------------------------------------------------------------------------------------------------

  private async present(app: App, domain: Domain, op?: Operation) {
    const usage = await this.nodesRepository.usage();
    const nodes = new Map(usage.map((u) => [u.node.id, u.node.name]));
    const addresses = new Map(usage.map((u) => [u.node.id, u.node.address]));
    const web = this.catalog.webOf((app.cartridges ?? []).map((c) => c.cartridge));
    const releaseIds = [...new Set([app.activeDeploymentId, ...(app.gears ?? []).map((g) => g.deploymentId)].filter((id): id is string => Boolean(id)))];
    const releases = new Map((await this.deploymentsRepository.findByIds(releaseIds)).map((d) => [d.id, d.number]));
    return {
      name: app.name,
      domain: domain.name,
      url: `http://${app.name}-${domain.name}.${this.config.appsDomain}:${this.config.routerPort}`,
      state: app.desiredState,
      status: statusOf(app),
      size: app.size,
      scale: (app.gears ?? []).filter((g) => g.cartridge === web?.manifest.name).length,
      cartridges: (app.cartridges ?? []).map((c) => c.cartridge).sort(),
      autoscale: app.autoscaleMax ? { min: app.autoscaleMin, max: app.autoscaleMax, targetConcurrency: app.autoscaleTarget } : null,
      idleAfterSeconds: app.idleAfterSeconds,
      health: app.health,
      env: app.env,
      release: app.activeDeploymentId ? releases.get(app.activeDeploymentId) ?? null : null,
      gears: (app.gears ?? [])
        .sort((a, b) => a.cartridge.localeCompare(b.cartridge) || a.createdAt.getTime() - b.createdAt.getTime())
        .map((g) => ({
          id: g.id,
          cartridge: g.cartridge,
          node: nodes.get(g.nodeId) ?? g.nodeId,
          state: g.state,
          release: g.deploymentId ? releases.get(g.deploymentId) ?? null : null,
          message: g.message,
          ports: g.ports,
          endpoints: Object.fromEntries(
            Object.entries(g.ports).map(([name, port]) => {
              const protocol = this.catalog.find(g.cartridge)?.manifest.endpoints.find((e) => e.name === name)?.protocol ?? 'http';
              return [name, `${protocol}://${addresses.get(g.nodeId) ?? '127.0.0.1'}:${port}`];
            }),
          ),
        })),
      createdAt: app.createdAt,
      ...(op ? { operation: presentOperation(op) } : {}),
    };
  }

  async requireApp(user: User, domainName: string, appName: string): Promise<{ domain: Domain; app: App }> {
    const domain = await this.domains.require(user, domainName);
    const app = await this.appsRepository.findByName(domain.id, appName);
    if (!app) throw notFound(`app "${appName}" in domain "${domainName}"`);
    return { domain, app };
  }

  async list(user: User, domainName: string) {
    const domain = await this.domains.require(user, domainName);
    const apps = await this.appsRepository.list(domain.id);
    return Promise.all(apps.map((a) => this.present(a, domain)));
  }

  async get(user: User, domainName: string, appName: string) {
    const { domain, app } = await this.requireApp(user, domainName, appName);
    return this.present(app, domain);
  }

  async gears(user: User, domainName: string, appName: string) {
    return (await this.get(user, domainName, appName)).gears;
  }

  /** The app's operations, newest first: what was asked, by whom or by the platform, and why. */
  async operationsOf(user: User, domainName: string, appName: string) {
    const { app } = await this.requireApp(user, domainName, appName);
    return (await this.operationsRepository.forApp(app.id, 50)).map((op) => ({ ...presentOperation(op), by: op.userId ? 'user' : 'platform' }));
  }

  /**
   * The user's variables, and the variables the app's services publish to its gears (as gears beside them see them).
   * Secret values are masked unless revealed: only whoever may change the app gets this far, and the mask keeps a
   * password out of a shared screen or a pasted listing.
   */
  async env(user: User, domainName: string, appName: string, reveal = false) {
    const { domain, app } = await this.requireApp(user, domainName, appName);
    const shape: AppShape = {
      id: app.id,
      name: app.name,
      domain: domain.name,
      state: app.desiredState,
      size: app.size,
      env: app.env,
      cartridges: shapeCartridges(app),
      gears: [],
    };
    const published = publishedVars(shape, this.catalog.cartridges).map((p) => ({
      name: p.name,
      value: p.secret && !reveal ? SECRET_MASK : p.value,
      secret: p.secret,
      from: p.from,
    }));
    return { env: app.env, published, revealed: reveal };
  }

  // ---- changing ------------------------------------------------------------------------------------------------

  private candidates(usage: Awaited<ReturnType<Repos['nodes']['usage']>>): NodeCandidate[] {
    return usage.map((u) => ({ ...u.node, allocatedMb: u.allocatedMb, gears: u.gears }));
  }

  /** Places gears under the placement lock; fails with 503 and the shortfall when no node has room. */
  private async place(repos: Repos, gearsMb: number[], onlyNode?: string, spread?: Record<string, number>): Promise<string> {
    const usage = await repos.nodes.usage();
    const nodes = this.candidates(usage).filter((n) => !onlyNode || n.id === onlyNode);
    const placed = placeGears(nodes, { gearsMb, now: new Date(), heartbeatTimeoutMs: this.config.heartbeatTimeoutMs, spread });
    if (!placed.ok) throw new GearshiftError('no_capacity', placed.shortfall);
    return placed.nodeId;
  }

  /**
   * Runs a change to one app as an operation: the change and the operation commit together, at most one operation
   * per app runs at a time, and the jobs are sent after the commit.
   */
  private async change(
    user: User,
    domainName: string,
    appName: string,
    kind: string,
    step: string,
    mutate: (repos: Repos, app: App) => Promise<Change>,
    waitSeconds?: number,
  ) {
    const { domain, app } = await this.requireApp(user, domainName, appName);
    const op = await this.changeApp(app, user, kind, step, mutate);
    return this.respond(op, domain, waitSeconds);
  }

  /**
   * Runs a change to one app as an operation: the change and the operation commit together, at most one operation
   * per app runs at a time, and the jobs are sent after the commit. `user` is null when the platform itself acts
   * (autoscaling, idling, waking).
   */
  private async changeApp(app: App, user: User | null, kind: string, step: string, mutate: (repos: Repos, app: App) => Promise<Change>): Promise<Operation> {
    return this.uow.run(REPOS, async (repos) => {
      const active = await repos.operations.activeForApp(app.id);
      if (active) throw conflict(`app "${app.name}" is busy with operation ${active.id} (${active.kind}); try again when it ends`);
      const before = new Set((app.gears ?? []).map((g) => g.nodeId));
      const changed = (await mutate(repos, app)) ?? [];
      const { nodes: extraNodes, context } = Array.isArray(changed) ? { nodes: changed, context: {} } : changed;
      const after = await repos.apps.findById(app.id);
      const nodes = new Set([...before, ...extraNodes, ...(after?.gears ?? []).map((g) => g.nodeId)]);
      const job = kind === 'app.delete' ? ('app.remove' as const) : ('app.converge' as const);
      return this.operations.create(repos, kind, app.id, user, [...nodes].map((nodeId) => ({ nodeId, job })), step, context);
    }, 'placement');
  }

  /** Whether the app's web gears serve now, so that a change to them must roll out rather than replace them. */
  private serving(app: App): boolean {
    const web = this.webOf(app);
    return app.desiredState === 'started' && Boolean(web) && (app.gears ?? []).some((g) => g.cartridge === web.manifest.name);
  }

  /**
   * The first half of a health-gated change (see operations/rollout.ts): as many new web gears as the app has,
   * beside the old ones, started with `change.env` if given. The app takes a new environment only once they are
   * healthy; a cartridge `change.added` (already in the app's rows) goes again if they never are.
   */
  private async surge(repos: Repos, app: App, change: Pick<ConfigRollout, 'env' | 'added'> = {}): Promise<Change> {
    const current = (await repos.apps.findById(app.id)) ?? app;
    const web = this.webOf(current).manifest.name;
    const old = (current.gears ?? []).filter((g) => g.cartridge === web).map((g) => g.id);
    const cartridges = (current.cartridges ?? []).map((c) => c.cartridge);
    const nodes = await this.addWebGears(repos, app.id, cartridges, current.gears ?? [], web, old.length, this.gearMb(current, web), current.activeDeploymentId);
    const fresh = ((await repos.apps.findById(app.id))?.gears ?? []).filter((g) => g.cartridge === web && !old.includes(g.id)).map((g) => g.id);
    const rollout: ConfigRollout = { fresh, old, ...change };
    return { nodes, context: { stage: 'surge', rollout } };
  }

  /** Starts an operation the platform decided on, and sends it; answers nothing to anyone. */
  async systemChange(app: App, kind: string, step: string, mutate: (repos: Repos, app: App) => Promise<string[] | void>): Promise<Operation> {
    const op = await this.changeApp(app, null, kind, step, mutate);
    this.routes.schedule();
    await this.operations.dispatch(op).catch((err) => this.logger.warn(`dispatch of ${op.id} deferred: ${err.message}`));
    return op;
  }

  private async respond(op: Operation, domain: Domain, waitSeconds?: number) {
    // A stopped or deleted app leaves the router at once, before its gears stop.
    this.routes.schedule();
    await this.operations.dispatch(op).catch((err) => this.logger.warn(`dispatch of ${op.id} deferred: ${err.message}`));
    const done = waitSeconds ? await this.operations.wait(op, waitSeconds) : op;
    const app = op.appId ? await this.appsRepository.findById(op.appId) : null;
    if (!app) return { deleted: true, operation: presentOperation(done) };
    return this.present(app, domain, done);
  }

  async create(user: User, domainName: string, body: CreateAppBody, waitSeconds?: number) {
    const domain = await this.domains.require(user, domainName);
    const names = body.cartridges.map(entryName);
    const chosen = checkCartridgeSet(names, this.catalog.cartridges);
    const options = body.cartridges.map(entryOptions);
    chosen.forEach((c, i) => checkOptions(c, options[i], `/cartridges/${i}`));
    // Without a web cartridge the app waits for its code, whose files say which runtime it needs.
    const web = chosen.find(isWeb);
    const size: GearSize = body.size ?? 'small';
    chosen.forEach((c, i) => checkSize([c], options[i].size ?? size, options[i].size ? `/cartridges/${i}/size` : '/size'));
    if (!web && body.scale !== undefined) throw ruleViolation('/scale', 'web-cartridge', 'scale is the number of web gears; this app has no web cartridge until its code is pushed, scale it then');
    const scale = web ? body.scale ?? Math.max(1, web.manifest.scaling?.min ?? 1) : 0;
    if (web) checkScale(web, scale, '/scale');
    const mb = (c: Cartridge) => GEAR_SIZES[options[chosen.indexOf(c)].size ?? size].memoryMb;
    const gearCartridges = [...chosen.filter((c) => !isWeb(c)), ...(web ? Array<Cartridge>(scale).fill(web) : [])];
    let op: Operation;
    try {
      op = await this.uow.run(REPOS, async (repos) => {
        if (await repos.apps.nameTaken(domain.id, body.name)) throw this.nameTaken(body.name, domainName);
        const appFields = { domainId: domain.id, name: body.name, desiredState: 'started' as const, size, env: body.env ?? {} };
        const cartridgeRows = chosen.map((c, i) => ({ cartridge: c.manifest.name, generated: generatedFor(c, this.ca), options: options[i] }));
        let nodes: string[];
        let app: App;
        if (web && chosen.length === 1) {
          // Web gears only: spread over the nodes.
          app = await repos.apps.create(appFields, cartridgeRows, []);
          nodes = await this.addWebGears(repos, app.id, [web.manifest.name], [], web.manifest.name, scale, mb(web), null);
        } else if (gearCartridges.length === 0) {
          app = await repos.apps.create(appFields, cartridgeRows, []);
          nodes = [];
        } else {
          // With services, all of an app's gears share one node and its network.
          const nodeId = await this.place(repos, gearCartridges.map(mb));
          app = await repos.apps.create(appFields, cartridgeRows, gearCartridges.map((c): NewGear => ({ cartridge: c.manifest.name, nodeId, memoryMb: mb(c) })));
          nodes = [nodeId];
        }
        const dispatch = nodes.map((nodeId) => ({ nodeId, job: 'app.converge' as const }));
        return this.operations.create(repos, 'app.create', app.id, user, dispatch, `create app ${body.name} with ${names.join(', ') || 'no cartridge yet'}${web ? '' : ' (the runtime is detected when code is pushed)'}`);
      }, 'placement');
    } catch (err) {
      if (isUniqueViolation(err)) throw this.nameTaken(body.name, domainName);
      throw err;
    }
    return this.respond(op, domain, waitSeconds);
  }

  private nameTaken(name: string, domain: string) {
    return conflict(`an app named "${name}" already exists in domain "${domain}"`, [{ pointer: '/name', rule: 'unique', message: 'is taken' }]);
  }

  async delete(user: User, domainName: string, appName: string, waitSeconds?: number) {
    return this.change(user, domainName, appName, 'app.delete', `delete app ${appName}`, async (repos, app) => {
      await repos.apps.update(app.id, { desiredState: 'deleting' });
    }, waitSeconds);
  }

  async action(user: User, domainName: string, appName: string, action: AppAction, waitSeconds?: number) {
    return this.change(user, domainName, appName, `app.${action}`, `${action} app ${appName}`, async (repos, app) => {
      if (app.desiredState === 'deleting') throw conflict(`app "${appName}" is being deleted`);
      if (action === 'start') await repos.apps.update(app.id, { desiredState: 'started', lastScaledAt: new Date() });
      if (action === 'stop') await repos.apps.update(app.id, { desiredState: 'stopped' });
      if (action === 'restart' || action === 'reload') {
        const web = this.webOf(app)?.manifest.name;
        if (this.serving(app)) {
          // Services hold one volume each and cannot run twice: they restart in place, before the new web gears
          // start. The web gears roll out, so the app keeps answering and a restart that breaks it is rolled back.
          const services = (app.cartridges ?? []).map((c) => c.cartridge).filter((c) => c !== web);
          if (action === 'restart' && services.length > 0) await repos.apps.bumpGenerations(app.id, services);
          return this.surge(repos, app);
        }
        await repos.apps.update(app.id, { desiredState: 'started' });
        await repos.apps.bumpGenerations(app.id, action === 'reload' ? [web] : undefined);
      }
    }, waitSeconds);
  }

  async patchEnv(user: User, domainName: string, appName: string, patch: Record<string, string | null>, waitSeconds?: number) {
    for (const name of Object.keys(patch)) {
      if (name.startsWith('GEARSHIFT_')) throw ruleViolation(`/${name}`, 'reserved', 'names starting with GEARSHIFT_ are set by the platform');
    }
    return this.change(user, domainName, appName, 'app.env', `change environment (${Object.keys(patch).join(', ')})`, async (repos, app) => {
      const env = { ...app.env };
      for (const [k, v] of Object.entries(patch)) {
        if (v === null) delete env[k];
        else env[k] = v;
      }
      // Serving web gears are replaced by new ones with the new environment, which the app takes once they are
      // healthy; a stopped or idle app has nothing to keep serving and takes it at once.
      if (this.serving(app)) return this.surge(repos, app, { env });
      await this.setEnv(repos, app, env);
    }, waitSeconds);
  }

  async unsetEnv(user: User, domainName: string, appName: string, name: string, waitSeconds?: number) {
    const { app } = await this.requireApp(user, domainName, appName);
    if (!(name in app.env)) throw notFound(`environment variable "${name}" of app "${appName}"`);
    return this.patchEnv(user, domainName, appName, { [name]: null }, waitSeconds);
  }

  async addCartridge(user: User, domainName: string, appName: string, name: string, waitSeconds?: number) {
    return this.change(user, domainName, appName, 'cartridge.add', `add cartridge ${name}`, async (repos, app) => {
      const current = (app.cartridges ?? []).map((c) => c.cartridge);
      if (current.includes(name)) throw conflict(`app "${appName}" already has cartridge ${name}`);
      const cartridge = this.catalog.find(name);
      if (!cartridge) throw new GearshiftError('invalid_input', `/cartridge names "${name}", which is not in the catalogue`, [{ pointer: '/cartridge', rule: 'known-cartridge', message: 'is not in the catalogue' }]);
      checkCartridgeSet([...current, name], this.catalog.cartridges, '/cartridge');
      checkSize([cartridge], app.size, '/cartridge');
      const memoryMb = GEAR_SIZES[app.size].memoryMb;
      const home = app.gears?.[0]?.nodeId;
      const nodeId = await this.place(repos, [memoryMb], home);
      await repos.apps.addCartridge(app.id, { cartridge: name, generated: generatedFor(cartridge, this.ca) }, [{ cartridge: name, nodeId, memoryMb }]);
      // The web gears get what the new cartridge publishes: a serving app's roll out beside the old ones, which keep
      // what they had, so a service or variables the app cannot start with take the cartridge out again.
      if (this.serving(app)) return this.surge(repos, app, { added: name });
      return [nodeId];
    }, waitSeconds);
  }

  async removeCartridge(user: User, domainName: string, appName: string, name: string, waitSeconds?: number) {
    return this.change(user, domainName, appName, 'cartridge.remove', `remove cartridge ${name}`, async (repos, app) => {
      if (!(app.cartridges ?? []).some((c) => c.cartridge === name)) throw notFound(`cartridge ${name} in app "${appName}"`);
      const c = this.catalog.find(name);
      if (c && isWeb(c)) throw ruleViolation('/cartridge', 'web-cartridge', `${name} is the app's web cartridge; delete the app instead`);
      await repos.apps.removeCartridge(app.id, name);
    }, waitSeconds);
  }

  async scale(user: User, domainName: string, appName: string, body: ScaleBody, waitSeconds?: number) {
    if ('min' in body) {
      return this.change(user, domainName, appName, 'app.scale', `autoscale between ${body.min} and ${body.max} gears`, async (repos, app) => {
        const web = this.webOf(app);
        if (body.min > body.max) throw ruleViolation('/min', 'range', `must not exceed max (${body.max})`);
        checkScale(web, body.min, '/min');
        checkScale(web, body.max, '/max');
        await repos.apps.update(app.id, { autoscaleMin: body.min, autoscaleMax: body.max, autoscaleTarget: body.targetConcurrency ?? 10 });
        const current = (app.gears ?? []).filter((g) => g.cartridge === web.manifest.name).length;
        const within = Math.min(body.max, Math.max(body.min, current));
        if (within !== current) await this.setReplicas(repos, app, within);
      }, waitSeconds);
    }
    return this.change(user, domainName, appName, 'app.scale', `scale to ${body.replicas} gear(s)`, async (repos, app) => {
      const web = this.webOf(app);
      if (body.cartridge && body.cartridge !== web.manifest.name) {
        throw ruleViolation('/cartridge', 'scalable', `only the web cartridge (${web.manifest.name}) scales`);
      }
      checkScale(web, body.replicas, '/replicas');
      // A fixed number of gears turns autoscaling off.
      await repos.apps.update(app.id, { autoscaleMin: null, autoscaleMax: null, autoscaleTarget: null });
      await this.setReplicas(repos, app, body.replicas);
    }, waitSeconds);
  }

  /** The app's web cartridge; an app that has none yet cannot do what needs one (422, not a crash). */
  webOf(app: App): Cartridge {
    const web = this.catalog.webOf((app.cartridges ?? []).map((c) => c.cartridge));
    if (!web) throw ruleViolation('/cartridges', 'web-cartridge', `app "${app.name}" has no web cartridge yet: push its code (the runtime is detected from its files) or add one`);
    return web;
  }

  /**
   * Gives an app without a web cartridge the one its pushed code needs, inside the caller's transaction, and names
   * the node to build on: its services' node, else one with room for a web gear. It gets no gear yet: the release's
   * gears are its first (see DeploymentsService.startRollout).
   */
  async adoptWebCartridge(repos: Repos, app: App, web: Cartridge): Promise<string> {
    const current = (app.cartridges ?? []).map((c) => c.cartridge);
    checkCartridgeSet([...current, web.manifest.name], this.catalog.cartridges);
    checkSize([web], app.size, '/size');
    await repos.apps.addCartridge(app.id, { cartridge: web.manifest.name, generated: generatedFor(web, this.ca) }, []);
    return app.gears?.[0]?.nodeId ?? this.place(repos, [GEAR_SIZES[app.size].memoryMb]);
  }

  /**
   * Adds `count` web gears, spread over the nodes, fewest of the app's web gears first. An app with services spreads
   * only once other nodes can reach them (see servicesReachableElsewhere); until then its gears stay on the services'
   * node, where they share the app's network. Each gear is written as soon as it is placed, so the next placement
   * counts it.
   */
  private async addWebGears(
    repos: Repos,
    appId: string,
    cartridges: string[],
    existing: { nodeId: string; cartridge: string; ports: Record<string, number> }[],
    web: string,
    count: number,
    memoryMb: number,
    deploymentId: string | null,
  ): Promise<string[]> {
    const services = existing.filter((g) => g.cartridge !== web);
    const stateless = cartridges.every((c) => this.catalog.find(c)?.manifest.categories.includes('web'));
    if (!stateless) {
      const home = services[0]?.nodeId ?? existing[0]?.nodeId;
      const address = home ? (await repos.nodes.findById(home))?.address : undefined;
      const reachable = servicesReachableElsewhere(
        address,
        services.map((g) => ({ ports: g.ports, endpoints: this.catalog.find(g.cartridge)?.manifest.endpoints.length ?? 0 })),
      );
      if (!reachable) {
        const nodeId = await this.place(repos, Array(count).fill(memoryMb), home);
        await repos.apps.addGears(appId, Array.from({ length: count }, () => ({ cartridge: web, nodeId, memoryMb, deploymentId })));
        return [nodeId];
      }
    }
    const spread: Record<string, number> = {};
    for (const g of existing.filter((x) => x.cartridge === web)) spread[g.nodeId] = (spread[g.nodeId] ?? 0) + 1;
    for (let i = 0; i < count; i++) {
      const nodeId = await this.place(repos, [memoryMb], undefined, spread);
      await repos.apps.addGears(appId, [{ cartridge: web, nodeId, memoryMb, deploymentId }]);
      spread[nodeId] = (spread[nodeId] ?? 0) + 1;
    }
    return Object.keys(spread);
  }

  /**
   * Adds `count` web gears running a release beside the app's current ones (a rollout's first half), inside the
   * caller's transaction; returns the nodes that got them.
   */
  async addReleaseGears(repos: Repos, app: App, count: number, deploymentId: string): Promise<string[]> {
    const web = this.webOf(app);
    const cartridges = (app.cartridges ?? []).map((c) => c.cartridge);
    return this.addWebGears(repos, app.id, cartridges, app.gears ?? [], web.manifest.name, count, this.gearMb(app, web.manifest.name), deploymentId);
  }

  /** The memory of one gear of a cartridge: its own size if the app gave it one, else the app's. */
  private gearMb(app: App, cartridge: string): number {
    const own = (app.cartridges ?? []).find((c) => c.cartridge === cartridge)?.options?.size;
    return GEAR_SIZES[own ?? app.size].memoryMb;
  }

  /** Sets the environment of an app and of the release it runs (a release keeps the environment it runs with). */
  async setEnv(repos: Repos, app: App, env: Record<string, string>): Promise<void> {
    await repos.apps.update(app.id, { env });
    if (app.activeDeploymentId) await repos.deployments.update(app.activeDeploymentId, { env });
  }

  /** Adds web gears (see addWebGears) or removes the newest, inside the caller's transaction. */
  private async setReplicas(repos: Repos, app: App, replicas: number): Promise<void> {
    const web = this.webOf(app);
    const gears = (app.gears ?? []).filter((g) => g.cartridge === web.manifest.name).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    const memoryMb = this.gearMb(app, web.manifest.name);
    if (replicas > gears.length) {
      const cartridges = (app.cartridges ?? []).map((c) => c.cartridge);
      await this.addWebGears(repos, app.id, cartridges, app.gears ?? [], web.manifest.name, replicas - gears.length, memoryMb, app.activeDeploymentId);
    } else {
      await repos.apps.removeGears(gears.slice(replicas).map((g) => g.id));
    }
    await repos.apps.update(app.id, { lastScaledAt: new Date() });
  }

  async patch(user: User, domainName: string, appName: string, body: PatchAppBody, waitSeconds?: number) {
    const { domain, app } = await this.requireApp(user, domainName, appName);
    if (body.idleAfterSeconds !== undefined) await this.appsRepository.update(app.id, { idleAfterSeconds: body.idleAfterSeconds });
    if (body.health !== undefined) {
      const health = body.health;
      // The check belongs to the release, as its environment does: the running one takes it now (its web gears are
      // replaced and must pass it), and later deployments start from it.
      if (app.activeDeploymentId) {
        const what = health ? `${health.path ?? 'the port'}${health.status !== undefined ? ` answering ${health.status}` : ''}` : "the cartridge's";
        return this.change(user, domainName, appName, 'app.health', `change the health check to ${what}`, async (repos, a) => {
          await repos.apps.update(a.id, { health });
          if (a.activeDeploymentId) await repos.deployments.update(a.activeDeploymentId, { health });
        }, waitSeconds);
      }
      await this.appsRepository.update(app.id, { health });
    }
    return this.present((await this.appsRepository.findById(app.id))!, domain);
  }

  // ---- descriptors ---------------------------------------------------------------------------------------------

  /** What an app is now, in the terms of a descriptor. */
  async stateOf(app: App): Promise<AppState> {
    const web = this.catalog.webOf((app.cartridges ?? []).map((c) => c.cartridge));
    return {
      cartridges: (app.cartridges ?? []).map((c) => c.cartridge),
      size: app.size,
      webScale: (app.gears ?? []).filter((g) => g.cartridge === web?.manifest.name).length,
      autoscale: app.autoscaleMax ? { min: app.autoscaleMin ?? 1, max: app.autoscaleMax, targetConcurrency: app.autoscaleTarget ?? 10 } : null,
      env: app.env,
      aliases: (await this.aliasesRepository.forApp(app.id)).map((a) => a.host),
      idleAfterSeconds: app.idleAfterSeconds,
      health: app.health,
    };
  }

  /** Converges an existing app to its descriptor in one operation. */
  async applyDescriptor(user: User, domainName: string, app: App, d: AppDescriptor, items: PlanItem[], waitSeconds?: number) {
    const domain = await this.domains.require(user, domainName);
    const summary = items.map((i) => `${i.action} ${i.target}`).join(', ');
    const op = await this.changeApp(app, user, 'app.apply', `apply ${d.name}: ${summary}`, async (repos, a) => {
      const has = (target: string) => items.some((i) => i.target === target);
      const current = (a.cartridges ?? []).map((c) => c.cartridge);
      const wanted = d.cartridges.map(entryName);
      const added = d.cartridges.filter((c) => !current.includes(entryName(c)));
      const nodes: string[] = [];
      if (added.length > 0) {
        const chosen = checkCartridgeSet(wanted, this.catalog.cartridges);
        chosen.forEach((c, i) => checkOptions(c, entryOptions(d.cartridges[i]), `/cartridges/${i}`));
        for (const entry of added) {
          const name = entryName(entry);
          const options = entryOptions(entry);
          checkSize([this.catalog.require(name)], options.size ?? a.size, '/size');
          const memoryMb = GEAR_SIZES[options.size ?? a.size].memoryMb;
          const nodeId = await this.place(repos, [memoryMb], a.gears?.[0]?.nodeId);
          await repos.apps.addCartridge(a.id, { cartridge: name, generated: generatedFor(this.catalog.require(name), this.ca), options }, [{ cartridge: name, nodeId, memoryMb }]);
          nodes.push(nodeId);
        }
      }
      for (const name of current.filter((c) => !wanted.includes(c))) await repos.apps.removeCartridge(a.id, name);
      if (items.some((i) => i.target.startsWith('env '))) {
        await this.setEnv(repos, a, descriptorEnv(d));
      }
      if (has('scale')) {
        checkScale(this.webOf(a), d.scale!, '/scale');
        await repos.apps.update(a.id, { autoscaleMin: null, autoscaleMax: null, autoscaleTarget: null });
        await this.setReplicas(repos, a, d.scale!);
      }
      if (has('autoscale')) {
        const web = this.webOf(a);
        checkScale(web, d.autoscale!.min, '/autoscale/min');
        checkScale(web, d.autoscale!.max, '/autoscale/max');
        if (d.autoscale!.min > d.autoscale!.max) throw ruleViolation('/autoscale/min', 'range', `must not exceed max (${d.autoscale!.max})`);
        await repos.apps.update(a.id, { autoscaleMin: d.autoscale!.min, autoscaleMax: d.autoscale!.max, autoscaleTarget: d.autoscale!.targetConcurrency ?? 10 });
      }
      if (has('idleAfterSeconds')) await repos.apps.update(a.id, { idleAfterSeconds: d.idleAfterSeconds ?? null });
      // For the next release only: at a push the file comes with the code it describes, and the running release
      // keeps the check its own code passes.
      if (has('health')) await repos.apps.update(a.id, { health: d.health ?? null });
      for (const item of items.filter((i) => i.target.startsWith('alias '))) {
        const host = item.target.slice('alias '.length);
        if (item.action === 'remove') await repos.aliases.delete(a.id, host);
        else {
          checkAliasHost(host, this.config.appsDomain, '/aliases');
          if (!(await repos.aliases.create({ appId: a.id, host, certificate: null, privateKey: null }))) throw conflict(`the host name ${host} is already an alias`);
        }
      }
      return nodes;
    });
    return this.respond(op, domain, waitSeconds);
  }

  // ---- the platform's own decisions ----------------------------------------------------------------------------

  /** Autoscaling: `replicas` web gears, with the reason in the operation. */
  async autoscale(app: App, replicas: number, reason: string): Promise<Operation> {
    return this.systemChange(app, 'app.autoscale', `autoscale to ${replicas} gear(s): ${reason}`, (repos, a) => this.setReplicas(repos, a, replicas));
  }

  /** Idling: web gears stop, services keep running, the router holds the next request. */
  async idle(app: App, reason: string): Promise<Operation> {
    return this.systemChange(app, 'app.idle', `idle: ${reason}`, async (repos, a) => {
      await repos.apps.update(a.id, { desiredState: 'idle', lastScaledAt: new Date() });
    });
  }

  /** A request arrived for an idle app. */
  async wake(appId: string, host: string): Promise<void> {
    const app = await this.appsRepository.findById(appId);
    if (!app || app.desiredState !== 'idle') return;
    await this.systemChange(app, 'app.wake', `wake: a request for ${host} arrived`, async (repos, a) => {
      await repos.apps.update(a.id, { desiredState: 'started', lastScaledAt: new Date() });
    }).catch((err: Error) => {
      // Already being woken by another request: that is fine.
      if (!/busy with operation/.test(err.message)) throw err;
    });
  }

}
