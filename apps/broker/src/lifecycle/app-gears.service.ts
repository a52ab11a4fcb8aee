import { Inject, Injectable } from '@nestjs/common';
import { GEAR_SIZES, gearProcessTypes, type Cartridge } from '@gearshift/cartridges';
import { BROKER_CONFIG, QUIET_NODE_MS, type BrokerConfig } from '../config';
import { CertificateAuthority } from '../common/certificates';
import { GearshiftError, ruleViolation } from '../common/errors';
import { CatalogService } from '../cartridges/catalog.service';
import type { App } from '../apps/app.entity';
import { checkCartridgeSet, checkSize } from '../apps/cartridge-rules';
import { generatedFor } from '../apps/generated-values';
import type { Change, ChangeRepos } from '../changes/change-runner';
import { placeGears, servicesReachableElsewhere, type NodeCandidate } from '../nodes/placement';
import type { ConfigRollout } from '../operations/rollout';
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

  /** Whether the app's web gears serve now, so that a change to them must roll out rather than replace them. */
  serving(app: App): boolean {
    const web = this.webOf(app);
    return app.desiredState === 'started' && Boolean(web) && (app.gears ?? []).some((g) => g.cartridge === web.manifest.name && !g.process);
  }

  /**
   * The first half of a health-gated change (see operations/rollout.ts): as many new web gears as the app has,
   * beside the old ones, started with `change.env` if given. The app takes a new environment only once they are
   * healthy; a cartridge `change.added` (already in the app's rows) goes again if they never are.
   */
  async surge(repos: ChangeRepos, app: App, change: Pick<ConfigRollout, 'env' | 'added'> = {}): Promise<Change> {
    const current = (await repos.apps.findById(app.id)) ?? app;
    const web = this.webOf(current).manifest.name;
    const old = (current.gears ?? []).filter((g) => g.cartridge === web && !g.process).map((g) => g.id);
    const cartridges = (current.cartridges ?? []).map((c) => c.cartridge);
    const nodes = await this.addWebGears(
      repos,
      app.id,
      cartridges,
      current.gears ?? [],
      web,
      old.length,
      this.gearMb(current, web),
      current.activeDeploymentId,
    );
    const fresh = ((await repos.apps.findById(app.id))?.gears ?? []).filter((g) => g.cartridge === web && !g.process && !old.includes(g.id)).map((g) => g.id);
    const rollout: ConfigRollout = { fresh, old, ...change };
    return { nodes, context: { stage: 'surge', rollout } };
  }

  /** Lost nodes take no gears; see place() for the ones that are only quiet. */
  private candidates(usage: Awaited<ReturnType<ChangeRepos['nodes']['usage']>>): NodeCandidate[] {
    return usage.filter((u) => !u.node.lostAt).map((u) => ({ ...u.node, allocatedMb: u.allocatedMb, gears: u.gears }));
  }

  /** Places gears under the placement lock; fails with 503 and the shortfall when no node has room. */
  async place(repos: ChangeRepos, gearsMb: number[], onlyNode?: string, spread?: Record<string, number>): Promise<string> {
    const usage = await repos.nodes.usage();
    const nodes = this.candidates(usage).filter((n) => !onlyNode || n.id === onlyNode);
    // A node the leader has not marked lost may be quiet for longer than the heartbeat timeout (the only node, whose
    // loss the leader does not declare; a busy machine) and still takes gears, as it did before nodes could be lost.
    const quietMs = Math.max(this.config.heartbeatTimeoutMs, QUIET_NODE_MS);
    const placed = placeGears(nodes, { gearsMb, now: new Date(), heartbeatTimeoutMs: quietMs, spread });
    if (!placed.ok) throw new GearshiftError('no_capacity', placed.shortfall);
    return placed.nodeId;
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
   * node, where they share the app's network. Each gear is written as soon as it is placed, so the next placement
   * counts it.
   */
  async addWebGears(
    repos: ChangeRepos,
    appId: string,
    cartridges: string[],
    existing: { nodeId: string; cartridge: string; ports: Record<string, number>; process?: string | null }[],
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
    for (const g of existing.filter((x) => x.cartridge === web && !x.process)) spread[g.nodeId] = (spread[g.nodeId] ?? 0) + 1;
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
  async addReleaseGears(repos: ChangeRepos, app: App, count: number, deploymentId: string): Promise<string[]> {
    const web = this.webOf(app);
    const cartridges = (app.cartridges ?? []).map((c) => c.cartridge);
    return this.addWebGears(repos, app.id, cartridges, app.gears ?? [], web.manifest.name, count, this.gearMb(app, web.manifest.name), deploymentId);
  }

  /**
   * The first release of an app that has no web gear yet places the app's first ones when its build is done; they
   * must fit the team's quota, which is checked as the deployment starts, so that nothing is built for gears that
   * could not run.
   */
  async checkFirstGears(repos: ChangeRepos, app: App, web: Cartridge): Promise<void> {
    if ((app.gears ?? []).some((g) => g.cartridge === web.manifest.name && !g.process)) return;
    const count = Math.max(1, web.manifest.scaling?.min ?? 1);
    await checkQuota(repos.teams, app.domainId, Array<number>(count).fill(this.gearMb(app, web.manifest.name)));
  }

  /** The memory of one gear of a cartridge: its own size if the app gave it one, else the app's. */
  private gearMb(app: App, cartridge: string): number {
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
      .filter((g) => g.cartridge === web.manifest.name && !g.process)
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    const memoryMb = this.gearMb(app, web.manifest.name);
    if (replicas > gears.length) {
      await checkQuota(repos.teams, app.domainId, Array<number>(replicas - gears.length).fill(memoryMb));
      const cartridges = (app.cartridges ?? []).map((c) => c.cartridge);
      await this.addWebGears(repos, app.id, cartridges, app.gears ?? [], web.manifest.name, replicas - gears.length, memoryMb, app.activeDeploymentId);
    } else {
      await repos.apps.removeGears(gears.slice(replicas).map((g) => g.id));
    }
    await repos.apps.update(app.id, { lastScaledAt: new Date() });
  }

  /**
   * Brings the app's process gears (workers) to a release that now serves, inside the caller's transaction: each
   * process type its Procfile names runs as many gears as before, on the release; a type the `previous` release did
   * not name starts with one (one it named with none was scaled to 0, and stays so). The gears of types the release
   * no longer names go. Returns the nodes that got new gears. New gears go where the release's web gears are: its
   * image and the app's network are there.
   */
  async followRelease(
    repos: ChangeRepos,
    app: App,
    release: { id: string; processes: Record<string, string> },
    previous: Record<string, string> = {},
  ): Promise<string[]> {
    const web = this.webOf(app).manifest.name;
    const types = gearProcessTypes(release.processes ?? {});
    const current = (app.gears ?? []).filter((g) => g.process);
    await repos.apps.removeGears(current.filter((g) => !types.includes(g.process!)).map((g) => g.id));
    const nodes = new Set<string>();
    for (const type of types) {
      const own = current.filter((g) => g.process === type);
      if (own.length > 0) {
        await repos.apps.setRelease(
          own.map((g) => g.id),
          release.id,
        );
        continue;
      }
      if (previous[type] !== undefined) continue;
      const webGears = (app.gears ?? []).filter((g) => g.cartridge === web && !g.process);
      const home = (webGears.find((g) => g.deploymentId === release.id) ?? webGears[0])?.nodeId;
      const memoryMb = this.gearMb(app, web);
      const nodeId = await this.place(repos, [memoryMb], home);
      await repos.apps.addGears(app.id, [{ cartridge: web, nodeId, memoryMb, deploymentId: release.id, process: type }]);
      nodes.add(nodeId);
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
    const home = (app.gears ?? []).find((g) => g.cartridge === web && !g.process && g.deploymentId === release.id)?.nodeId ?? gears[0]?.nodeId;
    for (let i = gears.length; i < replicas; i++) {
      const nodeId = await this.place(repos, [memoryMb], home);
      await repos.apps.addGears(app.id, [{ cartridge: web, nodeId, memoryMb, deploymentId: release.id, process: type }]);
    }
  }
}
