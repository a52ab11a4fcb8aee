import { Inject, Injectable } from '@nestjs/common';
import { GEAR_SIZES, newProcessTypes, releaseProcessGears, startOrder, type Cartridge } from '@gearshift/cartridges';
import type { ReleaseService } from '../apps/deployment.entity';
import { BROKER_CONFIG, QUIET_NODE_MS, type BrokerConfig } from '../config';
import { CertificateAuthority } from '../common/certificates';
import { GearshiftError, ruleViolation } from '../common/errors';
import { CatalogService } from '../cartridges/catalog.service';
import type { App, AppServiceScale } from '../apps/app.entity';
import type { NewGear } from '../apps/apps.repository';
import { followedServiceScale, serviceScaleOf } from '../apps/service-scale';
import { checkCartridgeSet, checkSize } from '../apps/cartridge-rules';
import { generatedFor } from '../apps/generated-values';
import type { Change, ChangeRepos } from '../changes/change-runner';
import { explainPlacement, roomFor, roomShortfall, servicesReachableElsewhere, type NodeCandidate } from '../nodes/placement';
import { nextPlacementNamed, recordPlacement } from '../common/placement-log';
import type { ConfigRollout } from '../operations/rollout';
import type { NodeUsage } from '../fleet/nodes.repository';
import { checkQuota } from '../teams/quota';

/**
 * Where an app's gears go and how many web gears it runs: placement on the nodes (under the placement lock, inside
 * the caller's change), replicas, release gears beside the running ones, and the environment they run with.
 */
@Injectable()
export class AppGears {
  constructor(
    private readonly catalog: CatalogService,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    private readonly ca: CertificateAuthority,
  ) {}

  /** The app's web cartridge; an app that has none yet cannot do what needs one (422, not a crash). */
  webOf(app: App): Cartridge {
    const web = this.catalog.webOf((app.cartridges ?? []).map((c) => c.cartridge));
    if (!web)
      throw ruleViolation(
        '/cartridges',
        'web-cartridge',
        `app "${app.name}" has no web cartridge yet: push its code (the runtime is detected from its files) or add one`,
      );
    return web;
  }

  /**
   * Whether the app serves now (its web gears, or the gears of its named services), so that a change to its gears must
   * roll out rather than replace them.
   */
  serving(app: App): boolean {
    // An app of named services only has no web gears of a cartridge: its services' gears are what serves.
    const web = this.catalog.webOf((app.cartridges ?? []).map((c) => c.cartridge))?.manifest.name;
    return app.desiredState === 'started' && (app.gears ?? []).some((g) => g.service || (g.cartridge === web && !g.process));
  }

  /**
   * The first half of a health-gated change (see operations/rollout.ts): as many new web gears as the app has,
   * beside the old ones, and a new gear beside each of its workers (Procfile process gears) and named services' gears
   * (all an app of named services only has), on the same node and release, all started with `change.env` if given. Every gear of the app's code runs what the
   * change touches (its environment, the cartridges' variables, the runtime), so none is replaced in place: a worker
   * must keep running for the settle time as a web gear must pass its check. The app takes a new environment only once
   * they all are healthy; a cartridge `change.added` (already in the app's rows) goes again if one never is.
   */
  async surge(repos: ChangeRepos, app: App, change: Pick<ConfigRollout, 'env' | 'added' | 'renamed'> = {}): Promise<Change> {
    const current = (await repos.apps.findById(app.id)) ?? app;
    // An app of named services only has no web gears of a cartridge: its services' gears are all it surges.
    const web = this.catalog.webOf((current.cartridges ?? []).map((c) => c.cartridge))?.manifest.name;
    const old = (current.gears ?? []).filter((g) => g.cartridge === web && !g.process && !g.service).map((g) => g.id);
    const cartridges = (current.cartridges ?? []).map((c) => c.cartridge);
    const nodes = web
      ? await this.addWebGears(repos, app.id, cartridges, current.gears ?? [], web, old.length, this.gearMb(current, web), current.activeDeploymentId)
      : [];
    const workers = (current.gears ?? []).filter((g) => g.process || g.service);
    for (const g of workers) {
      const nodeId = await this.place(repos, [g.memoryMb], g.nodeId);
      await repos.apps.addGears(app.id, [
        { cartridge: g.cartridge, nodeId, memoryMb: g.memoryMb, deploymentId: g.deploymentId, process: g.process, service: g.service },
      ]);
      nodes.push(nodeId);
    }
    const before = new Set((current.gears ?? []).map((g) => g.id));
    const fresh = ((await repos.apps.findById(app.id))?.gears ?? []).filter((g) => !before.has(g.id)).map((g) => g.id);
    const rollout: ConfigRollout = { fresh, old: [...old, ...workers.map((g) => g.id)], ...change };
    return { nodes: [...new Set(nodes)], context: { stage: 'surge', rollout } };
  }

  /**
   * What of an app a drain can move off `nodeId`: its web and worker gears, unless they must stay beside services
   * that other nodes cannot reach. Services (a database) never move: their data is on the node.
   */
  movableOff(app: App, nodeId: string, servicesElsewhere: boolean): { gears: App['gears']; staying: string[]; why?: string } {
    const web = this.catalog.webOf((app.cartridges ?? []).map((c) => c.cartridge))?.manifest.name;
    const here = (app.gears ?? []).filter((g) => g.nodeId === nodeId);
    const services = here.filter((g) => g.cartridge !== web);
    const runtimes = here.filter((g) => g.cartridge === web);
    const staying = services.map((g) => g.cartridge);
    if (runtimes.length > 0 && !servicesElsewhere && (app.gears ?? []).some((g) => g.cartridge !== web)) {
      return { gears: [], staying: [...staying, ...runtimes.map((g) => g.cartridge)], why: 'its web gears reach its services on this node only' };
    }
    return { gears: runtimes, staying };
  }

  /**
   * A drain's move, as the first half of a health-gated rollout: a new gear on another node for each web or worker
   * gear of the app on `nodeId` (web gears spread over the nodes that keep the app's others); the old ones retire
   * once the new ones are healthy and routed (ConfigRolloutService), or stay serving if they never are.
   */
  async moveOff(repos: ChangeRepos, app: App, nodeId: string, gearIds: string[]): Promise<Change> {
    const current = (await repos.apps.findById(app.id)) ?? app;
    const old = (current.gears ?? []).filter((g) => g.nodeId === nodeId && gearIds.includes(g.id));
    const spread: Record<string, number> = {};
    for (const g of (current.gears ?? []).filter((x) => x.nodeId !== nodeId && x.cartridge === old[0]?.cartridge && !x.process)) {
      spread[g.nodeId] = (spread[g.nodeId] ?? 0) + 1;
    }
    const nodes = new Set<string>([nodeId]);
    for (const g of old) {
      const to = await this.place(repos, [g.memoryMb], undefined, g.process ? undefined : spread);
      await repos.apps.addGears(app.id, [
        { cartridge: g.cartridge, nodeId: to, memoryMb: g.memoryMb, deploymentId: g.deploymentId, process: g.process, service: g.service },
      ]);
      if (!g.process) spread[to] = (spread[to] ?? 0) + 1;
      nodes.add(to);
    }
    const before = new Set((current.gears ?? []).map((g) => g.id));
    const fresh = ((await repos.apps.findById(app.id))?.gears ?? []).filter((g) => !before.has(g.id)).map((g) => g.id);
    const rollout: ConfigRollout = { fresh, old: old.map((g) => g.id) };
    return { nodes: [...nodes], context: { stage: 'surge', rollout } };
  }

  /** Lost nodes take no gears; see place() for the ones that are only quiet. */
  private candidates(usage: NodeUsage[]): NodeCandidate[] {
    return usage.filter((u) => !u.node.lostAt).map((u) => ({ ...u.node, allocatedMb: u.allocatedMb, gears: u.gears }));
  }

  /**
   * Places gears under the placement lock. When no node has room it fails with the shortfall: 422
   * `capacity_exceeded` when the nodes as they are can never take the gears (full, or lacking a label), which ends an
   * operation at once; 503 `no_capacity` when a node that is away may take them once back (see Placement), which an
   * operation's stage retries. The operation of the change records which nodes were considered and why (see
   * placement-log.ts).
   */
  async place(repos: ChangeRepos, gearsMb: number[], onlyNode?: string, spread?: Record<string, number>, known?: NodeCandidate[]): Promise<string> {
    const nodes = (known ?? this.candidates(await repos.nodes.usage())).filter((n) => !onlyNode || n.id === onlyNode);
    const explained = explainPlacement(nodes, { gearsMb, now: new Date(), heartbeatTimeoutMs: this.quietMs(), spread, named: nextPlacementNamed() });
    const { placement } = explained;
    if (!placement.ok) {
      if (placement.lasting) throw capacityExceeded('', placement.shortfall);
      throw new GearshiftError('no_capacity', placement.shortfall);
    }
    recordPlacement({ text: `placed ${explained.summary}`, considered: explained.considered, passedOver: explained.passedOver });
    return placement.nodeId;
  }

  /**
   * Why a whole group of gears does not fit the nodes (the whole need and what the nodes have), or null; see roomFor.
   * `together`: all on that node, or on one node still to be chosen. `freed`: room that gears going with the same
   * change give back.
   */
  async roomShortfall(
    repos: Pick<ChangeRepos, 'nodes'>,
    what: string,
    gearsMb: number[],
    opts: { together?: string | true; more?: boolean; freed?: { nodeId: string; memoryMb: number }[] } = {},
  ): Promise<string | null> {
    if (gearsMb.length === 0) return null;
    const nodes = this.candidates(await repos.nodes.usage());
    for (const f of opts.freed ?? []) {
      const n = nodes.find((x) => x.id === f.nodeId);
      if (n) {
        n.allocatedMb -= f.memoryMb;
        n.gears -= 1;
      }
    }
    const check = roomFor(nodes, { gearsMb, together: opts.together, now: new Date(), heartbeatTimeoutMs: this.quietMs() });
    return roomShortfall(what, gearsMb, check, opts.more);
  }

  /**
   * Refuses a whole group of gears the nodes cannot take (422 `capacity_exceeded` at `pointer`) before any of them is
   * placed, so that nothing is half made and an operation does not wait for room that will not come.
   */
  async checkRoom(repos: ChangeRepos, what: string, gearsMb: number[], pointer: string, opts: Parameters<AppGears['roomShortfall']>[3] = {}): Promise<void> {
    const shortfall = await this.roomShortfall(repos, what, gearsMb, opts);
    if (shortfall) throw capacityExceeded(pointer, shortfall);
  }

  /**
   * Why the nodes cannot take a release, or null: its web gears (`webGears`, else as many as the app serves with, or
   * the cartridge's first ones), the first gear of each new process type, and every gear of its services, which all go
   * on one node beside the app's (see addServiceGears). A release that surges runs beside the serving one, whose gears
   * keep their room; one that does not replaces the services' gears.
   */
  async releaseShortfall(
    repos: Pick<ChangeRepos, 'nodes'>,
    app: ReleaseHolder,
    release: { web?: Cartridge | null; webGears?: number; newProcesses?: number; services: Record<string, ServiceNeed> },
  ): Promise<string | null> {
    const web = release.web === undefined ? this.catalog.webOf((app.cartridges ?? []).map((c) => c.cartridge)) : release.web;
    const webMb: number[] = [];
    if (web) {
      const name = web.manifest.name;
      const running = (app.gears ?? []).filter((g) => g.cartridge === name && !g.process && !g.service).length;
      const count = release.webGears ?? (running > 0 ? running : Math.max(1, web.manifest.scaling?.min ?? 1));
      webMb.push(...Array<number>(count + (release.newProcesses ?? 0)).fill(this.gearMb(app, name)));
    }
    const servicesMb: number[] = [];
    for (const [name, s] of Object.entries(release.services)) {
      servicesMb.push(...Array<number>(serviceScaleOf(app.services?.[name], s)).fill(GEAR_SIZES[s.size ?? app.size].memoryMb));
    }
    // What serves: the web gears, or for an app of named services only, its services' gears.
    const serving =
      app.desiredState === 'started' &&
      (app.gears ?? []).some((g) => (web ? g.cartridge === web.manifest.name && !g.process && !g.service : Boolean(g.service)));
    const freed = serving ? [] : (app.gears ?? []).filter((g) => g.service).map((g) => ({ nodeId: g.nodeId, memoryMb: g.memoryMb }));
    const home = app.gears?.[0]?.nodeId;
    // The services' gears share one node; all of the release's gears must fit the nodes together as well.
    return (
      (await this.roomShortfall(repos, "the release's services", servicesMb, { together: home ?? true, freed })) ??
      (await this.roomShortfall(repos, 'the release', [...webMb, ...servicesMb], { freed }))
    );
  }

  /** Refuses a release the nodes cannot take (see releaseShortfall) with 422 `capacity_exceeded` at `pointer`. */
  async checkReleaseRoom(repos: ChangeRepos, app: App, release: Parameters<AppGears['releaseShortfall']>[2], pointer: string): Promise<void> {
    const shortfall = await this.releaseShortfall(repos, app, release);
    if (shortfall) throw capacityExceeded(pointer, shortfall);
  }

  /**
   * How long a node may be silent and still take gears. A node the leader has not marked lost may be quiet for longer
   * than the heartbeat timeout (the only node, whose loss the leader does not declare; a busy machine) and still takes
   * gears, as it did before nodes could be lost.
   */
  quietMs(): number {
    return Math.max(this.config.heartbeatTimeoutMs, QUIET_NODE_MS);
  }

  /**
   * Gives an app without a web cartridge the one its pushed code needs, inside the caller's transaction, and names
   * the node to build on: its services' node, else one with room for a web gear. It gets no gear yet: the release's
   * gears are its first (see DeploymentStages.startRollout).
   */
  async adoptWebCartridge(repos: ChangeRepos, app: App, web: Cartridge): Promise<string> {
    const current = (app.cartridges ?? []).map((c) => c.cartridge);
    checkCartridgeSet([...current, web.manifest.name], this.catalog.cartridges);
    checkSize([web], app.size, '/size');
    await repos.apps.addCartridge(app.id, { cartridge: web.manifest.name, generated: generatedFor(web, this.ca) }, []);
    return app.gears?.[0]?.nodeId ?? this.place(repos, [GEAR_SIZES[app.size].memoryMb]);
  }

  /**
   * Adds `count` web gears, spread over the nodes, fewest of the app's web gears first. An app with services spreads
   * only once other nodes can reach them (see servicesReachableElsewhere); until then its gears stay on the services'
   * node, where they share the app's network. Each gear placed is counted in the node usage the next placement reads.
   */
  async addWebGears(
    repos: ChangeRepos,
    appId: string,
    cartridges: string[],
    existing: { nodeId: string; cartridge: string; ports: Record<string, number>; process?: string | null; service?: string | null }[],
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
        await repos.apps.addGears(
          appId,
          Array.from({ length: count }, () => ({ cartridge: web, nodeId, memoryMb, deploymentId })),
        );
        return [nodeId];
      }
    }
    const spread: Record<string, number> = {};
    for (const g of existing.filter((x) => x.cartridge === web && !x.process && !x.service)) spread[g.nodeId] = (spread[g.nodeId] ?? 0) + 1;
    const placed = await this.spreadWebGears(repos, await repos.nodes.usage(), spread, web, count, memoryMb, deploymentId);
    await repos.apps.addGears(appId, placed.gears);
    return placed.nodes;
  }

  /**
   * Places `count` web gears over the nodes, fewest of the app's replicas (`spread`, counted on here) first, inside
   * the caller's change; the gears' rows are the caller's to write. Node usage is read once, under the placement lock
   * (nothing else places meanwhile), and counted on here. Returns the gears and every node with a replica of the app.
   */
  async spreadWebGears(
    repos: ChangeRepos,
    usage: NodeUsage[],
    spread: Record<string, number>,
    web: string,
    count: number,
    memoryMb: number,
    deploymentId: string | null,
  ): Promise<{ nodes: string[]; gears: NewGear[] }> {
    const known = this.candidates(usage);
    const gears: NewGear[] = [];
    for (let i = 0; i < count; i++) {
      const nodeId = await this.place(repos, [memoryMb], undefined, spread, known);
      const node = known.find((n) => n.id === nodeId)!;
      node.allocatedMb += memoryMb;
      node.gears += 1;
      gears.push({ cartridge: web, nodeId, memoryMb, deploymentId });
      spread[nodeId] = (spread[nodeId] ?? 0) + 1;
    }
    return { nodes: Object.keys(spread), gears };
  }

  /**
   * Adds `count` web gears running a release beside the app's current ones (a rollout's first half), inside the
   * caller's transaction; returns the nodes that got them.
   */
  async addReleaseGears(repos: ChangeRepos, app: App, count: number, deploymentId: string): Promise<string[]> {
    const web = this.webOf(app);
    const cartridges = (app.cartridges ?? []).map((c) => c.cartridge);
    return this.addWebGears(repos, app.id, cartridges, app.gears ?? [], web.manifest.name, count, this.gearMb(app, web.manifest.name), deploymentId);
  }

  /** The memory of one gear of a cartridge: its own size if the app gave it one, else the app's. */
  private gearMb(app: Pick<App, 'cartridges' | 'size'>, cartridge: string): number {
    const own = (app.cartridges ?? []).find((c) => c.cartridge === cartridge)?.options?.size;
    return GEAR_SIZES[own ?? app.size].memoryMb;
  }

  /** Sets the environment of an app and of the release it runs (a release keeps the environment it runs with). */
  async setEnv(repos: ChangeRepos, app: App, env: Record<string, string>): Promise<void> {
    await repos.apps.update(app.id, { env });
    if (app.activeDeploymentId) await repos.deployments.update(app.activeDeploymentId, { env });
  }

  /**
   * Adds web gears (see addWebGears) or removes the newest, inside the caller's transaction. More gears must fit the
   * team's quota: scaling by hand, by a descriptor or by the autoscaler alike.
   */
  async setReplicas(repos: ChangeRepos, app: App, replicas: number): Promise<void> {
    const web = this.webOf(app);
    const gears = (app.gears ?? [])
      .filter((g) => g.cartridge === web.manifest.name && !g.process && !g.service)
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    const memoryMb = this.gearMb(app, web.manifest.name);
    if (replicas > gears.length) {
      await checkQuota(repos.teams, app.domainId, Array<number>(replicas - gears.length).fill(memoryMb));
      await this.checkRoom(repos, `${replicas} web gears`, Array<number>(replicas - gears.length).fill(memoryMb), '/replicas', { more: true });
      const cartridges = (app.cartridges ?? []).map((c) => c.cartridge);
      await this.addWebGears(repos, app.id, cartridges, app.gears ?? [], web.manifest.name, replicas - gears.length, memoryMb, app.activeDeploymentId);
    } else {
      await repos.apps.removeGears(gears.slice(replicas).map((g) => g.id));
    }
    await repos.apps.update(app.id, { lastScaledAt: new Date() });
  }

  /**
   * The gears a release adds when it begins to serve must fit the team's quota: the first web gears of an app that
   * has none yet (`web`: the cartridge a first push adopts) and the first gear of each process type it starts (see
   * followRelease). Checked as its deployment or rollback starts, so that nothing is built for gears that could not
   * run.
   */
  async checkReleaseGears(
    repos: ChangeRepos,
    app: App,
    processes: Record<string, string>,
    previous: Record<string, string>,
    web?: Cartridge | null,
    services: Record<string, ReleaseService> = {},
    pointer = '',
  ): Promise<void> {
    const gearsMb: number[] = [];
    // An app of named services only has no web cartridge (`web` null, or none of its own).
    const cartridge = web === undefined ? this.catalog.webOf((app.cartridges ?? []).map((c) => c.cartridge)) : web;
    if (cartridge) {
      const name = cartridge.manifest.name;
      const types = newProcessTypes(
        processes,
        previous,
        (app.gears ?? []).map((g) => g.process),
      );
      const firstWeb = (app.gears ?? []).some((g) => g.cartridge === name && !g.process && !g.service) ? 0 : Math.max(1, cartridge.manifest.scaling?.min ?? 1);
      gearsMb.push(...Array<number>(types.length + firstWeb).fill(this.gearMb(app, name)));
    }
    // Every gear of a service counts; a service the app does not run yet starts with its scale.
    for (const [name, s] of Object.entries(services)) {
      if ((app.gears ?? []).some((g) => g.service === name)) continue;
      gearsMb.push(...Array<number>(this.serviceScale(app, name, s)).fill(GEAR_SIZES[s.size ?? app.size].memoryMb));
    }
    await checkQuota(repos.teams, app.domainId, gearsMb);
    const newProcesses = cartridge
      ? newProcessTypes(
          processes,
          previous,
          (app.gears ?? []).map((g) => g.process),
        ).length
      : 0;
    await this.checkReleaseRoom(repos, app, { web: cartridge ?? null, newProcesses, services }, pointer);
  }

  /**
   * How many gears a named service runs: what it was scaled to by hand, the count it autoscaled to (within its
   * bounds), else its release's `scale` (default 1). See serviceScaleOf.
   */
  serviceScale(app: App, name: string, s: Pick<ReleaseService, 'scale' | 'autoscale'>): number {
    return serviceScaleOf(app.services?.[name], s);
  }

  /**
   * Where an app of named services only builds and runs them: beside its gears (the app's network on that node is
   * where its services reach each other by name), else on a node with room.
   */
  async serviceHome(repos: ChangeRepos, app: App): Promise<string> {
    return app.gears?.[0]?.nodeId ?? this.place(repos, [GEAR_SIZES[app.size].memoryMb]);
  }

  /**
   * Adds the gears of every named service of a release, in start order, each as many as it runs (see
   * serviceScale), inside the caller's transaction: beside the app's other gears, whose network they share. Returns
   * the nodes that got them. The gears of the release the app ran before stay until the rollout retires them.
   */
  async addServiceGears(repos: ChangeRepos, app: App, release: { id: string; services: Record<string, ReleaseService> }): Promise<string[]> {
    const nodes = new Set<string>();
    let home = app.gears?.[0]?.nodeId;
    for (const name of startOrder(release.services)) {
      const s = release.services[name];
      const memoryMb = GEAR_SIZES[s.size ?? app.size].memoryMb;
      for (let i = 0; i < this.serviceScale(app, name, s); i++) {
        const nodeId = await this.place(repos, [memoryMb], home);
        home = nodeId;
        await repos.apps.addGears(app.id, [{ cartridge: s.cartridge, nodeId, memoryMb, deploymentId: release.id, service: name }]);
        nodes.add(nodeId);
      }
    }
    return [...nodes];
  }

  /**
   * Runs `replicas` gears of one named service of the release the app serves, inside the caller's transaction: added
   * beside the app's other gears, or the newest removed. The app keeps the number through later releases. More gears
   * must fit the team's quota.
   */
  async setServiceReplicas(
    repos: ChangeRepos,
    app: App,
    name: string,
    replicas: number,
    release: { id: string; services: Record<string, ReleaseService> },
    // By hand, a number of gears turns the service's autoscaling off, as it does an app's.
    kept: AppServiceScale = { scale: replicas, scaled: true },
  ): Promise<void> {
    const s = release.services[name];
    const gears = (app.gears ?? []).filter((g) => g.service === name).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    await repos.apps.update(app.id, { services: { ...(app.services ?? {}), [name]: kept } });
    if (replicas === gears.length) return;
    if (replicas < gears.length) {
      await repos.apps.removeGears(gears.slice(replicas).map((g) => g.id));
      return;
    }
    const memoryMb = GEAR_SIZES[s.size ?? app.size].memoryMb;
    await checkQuota(repos.teams, app.domainId, Array<number>(replicas - gears.length).fill(memoryMb));
    const home = gears[0]?.nodeId ?? app.gears?.[0]?.nodeId;
    await this.checkRoom(repos, `service "${name}" at ${replicas} replicas`, Array<number>(replicas - gears.length).fill(memoryMb), '/replicas', {
      together: home,
      more: true,
    });
    for (let i = gears.length; i < replicas; i++) {
      const nodeId = await this.place(repos, [memoryMb], home);
      await repos.apps.addGears(app.id, [{ cartridge: s.cartridge, nodeId, memoryMb, deploymentId: release.id, service: name }]);
    }
  }

  /**
   * Records the services a release that now serves runs, inside the caller's transaction: a scale set by hand is
   * kept, the release's is taken otherwise; services it no longer names are forgotten.
   */
  async followServices(repos: ChangeRepos, app: App, release: { services: Record<string, ReleaseService> }): Promise<void> {
    const services = Object.fromEntries(Object.entries(release.services ?? {}).map(([name, s]) => [name, followedServiceScale(app.services?.[name], s)]));
    await repos.apps.update(app.id, { services });
  }

  /**
   * Adds the process gears (workers) of a release beside the app's current ones (a rollout's first half), inside the
   * caller's transaction: of each type its Procfile names, as many as run now, and one of a type the `previous`
   * release did not name (see releaseProcessGears). They must keep running as any worker of a surge does before the
   * release serves; the old ones keep running meanwhile, and either retire with the old web gears or stay when the
   * release is rolled back. Placed where the release's web gears are: its image and the app's network are there.
   * Returns the nodes that got them.
   */
  async addProcessGears(
    repos: ChangeRepos,
    app: App,
    release: { id: string; processes: Record<string, string> },
    previous: Record<string, string>,
  ): Promise<string[]> {
    const current = (await repos.apps.findById(app.id)) ?? app;
    const gears = current.gears ?? [];
    const counts = releaseProcessGears(
      release.processes ?? {},
      previous,
      gears.filter((g) => g.deploymentId !== release.id).map((g) => g.process),
    );
    const nodes = new Set<string>();
    for (const [type, count] of Object.entries(counts)) {
      for (let i = 0; i < count; i++) nodes.add(await this.addProcessGear(repos, current, type, release.id));
    }
    return [...nodes];
  }

  /** One gear of a process type running `releaseId`, beside the release's web gears (else the app's first). */
  private async addProcessGear(repos: ChangeRepos, app: App, type: string, releaseId: string): Promise<string> {
    const web = this.webOf(app).manifest.name;
    const webGears = (app.gears ?? []).filter((g) => g.cartridge === web && !g.process && !g.service);
    const home = (webGears.find((g) => g.deploymentId === releaseId) ?? webGears[0])?.nodeId;
    const memoryMb = this.gearMb(app, web);
    const nodeId = await this.place(repos, [memoryMb], home);
    await repos.apps.addGears(app.id, [{ cartridge: web, nodeId, memoryMb, deploymentId: releaseId, process: type }]);
    return nodeId;
  }

  /**
   * Brings the app's process gears (workers) to a release that now serves without having surged them (a stopped
   * app, its first release), inside the caller's transaction: each process type its Procfile names runs as many
   * gears as before, on the release; a type the `previous` release did not name starts with one (one it named with
   * none was scaled to 0, and stays so). The gears of types the release no longer names go. After a surge the
   * release's own process gears are all there are (see addProcessGears), and nothing changes. Returns the nodes that
   * got new gears.
   */
  async followRelease(
    repos: ChangeRepos,
    app: App,
    release: { id: string; processes: Record<string, string> },
    previous: Record<string, string> = {},
  ): Promise<string[]> {
    const current = (app.gears ?? []).filter((g) => g.process);
    const counts = releaseProcessGears(
      release.processes ?? {},
      previous,
      current.map((g) => g.process),
    );
    await repos.apps.removeGears(current.filter((g) => counts[g.process!] === undefined).map((g) => g.id));
    const nodes = new Set<string>();
    for (const [type, count] of Object.entries(counts)) {
      const own = current.filter((g) => g.process === type);
      await repos.apps.setRelease(
        own.filter((g) => g.deploymentId !== release.id).map((g) => g.id),
        release.id,
      );
      for (let i = own.length; i < count; i++) nodes.add(await this.addProcessGear(repos, app, type, release.id));
    }
    return [...nodes];
  }

  /**
   * Runs `replicas` gears of one of the Procfile process types of the release the app serves, inside the caller's
   * transaction: added where the app's web gears are, or the newest removed. More gears must fit the team's quota.
   */
  async setProcessReplicas(repos: ChangeRepos, app: App, type: string, replicas: number, release: { id: string }): Promise<void> {
    const web = this.webOf(app).manifest.name;
    const gears = (app.gears ?? []).filter((g) => g.process === type).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    const memoryMb = this.gearMb(app, web);
    if (replicas <= gears.length) {
      await repos.apps.removeGears(gears.slice(replicas).map((g) => g.id));
      return;
    }
    await checkQuota(repos.teams, app.domainId, Array<number>(replicas - gears.length).fill(memoryMb));
    const home = (app.gears ?? []).find((g) => g.cartridge === web && !g.process && !g.service && g.deploymentId === release.id)?.nodeId ?? gears[0]?.nodeId;
    await this.checkRoom(repos, `process "${type}" at ${replicas} gears`, Array<number>(replicas - gears.length).fill(memoryMb), '/replicas', {
      together: home,
      more: true,
    });
    for (let i = gears.length; i < replicas; i++) {
      const nodeId = await this.place(repos, [memoryMb], home);
      await repos.apps.addGears(app.id, [{ cartridge: web, nodeId, memoryMb, deploymentId: release.id, process: type }]);
    }
  }
}

/** What a release's room is reckoned from: an app, or what a descriptor would make of a new one. */
type ReleaseHolder = Pick<App, 'cartridges' | 'gears' | 'size' | 'services' | 'desiredState'>;
type ServiceNeed = Pick<ReleaseService, 'scale' | 'autoscale' | 'size'>;

/** A refusal of gears the nodes as they are can never take: a 422 that names the whole need, at `pointer`. */
const capacityExceeded = (pointer: string, message: string) => new GearshiftError('capacity_exceeded', message, [{ pointer, rule: 'node-capacity', message }]);
