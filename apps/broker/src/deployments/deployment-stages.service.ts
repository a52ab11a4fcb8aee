import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { rmSync } from 'node:fs';
import { gearSecurity, procfileCommand, type BuildJob, type NodeJob, type NodeJobs, type ServiceBuild } from '@gearshift/cartridges';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { Metrics } from '../metrics/metrics';
import { UnitOfWork, type Tx } from '../database/unit-of-work';
import { DeploymentsRepository } from '../apps/deployments.repository';
import { CHANGE_REPOS, type ChangeRepos } from '../changes/change-runner';
import { AppGears } from '../lifecycle/app-gears.service';
import type { App } from '../apps/app.entity';
import { GearSpecsService } from '../apps/gear-specs.service';
import { publishedVars, secretValues } from '../apps/gear-specs';
import { CatalogService } from '../cartridges/catalog.service';
import { OperationsService, type StageHandler, type StageOutcome } from '../operations/operations.service';
import type { Operation } from '../operations/operation.entity';
import { contextOf } from '../operations/contexts';
import { convergeAll, nextDeploymentStage, planRolloutStart, rolloutStartStep } from './rollout-stages';
import { RegistryJanitor } from './registry-janitor';
import { releaseImage } from '../apps/release-images';
import { DeploymentSources } from './sources';
import { IMAGE_CARTRIDGE, serviceStart } from './release-services';
import { serviceHostsOf } from '../routes/service-hosts';
import type { Deployment, ReleaseService } from '../apps/deployment.entity';

/** A stage writes what a change to an app writes (see ChangeRunner). */
const REPOS = CHANGE_REPOS;
type Repos = ChangeRepos;

/**
 * The stage side of deployments: the build job a node runs, the extras of each converge, and the step from one stage
 * of an `app.deploy` or `app.activate` operation to the next as the nodes report, with the release's state kept in
 * step (DeploymentsService, which starts these operations, describes the stages).
 */
@Injectable()
export class DeploymentStages implements OnModuleInit, StageHandler {
  private readonly logger = new Logger('deployments');

  constructor(
    private readonly deploymentsRepository: DeploymentsRepository,
    private readonly sources: DeploymentSources,
    private readonly apps: AppGears,
    private readonly operations: OperationsService,
    private readonly specs: GearSpecsService,
    private readonly catalog: CatalogService,
    private readonly janitor: RegistryJanitor,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    private readonly metrics: Metrics,
    private readonly uow: UnitOfWork,
  ) {}

  onModuleInit(): void {
    this.operations.registerStages('app.deploy', this);
    this.operations.registerStages('app.activate', this);
  }

  /**
   * The first stage of a rollout. A serving app gets new gears beside the old (`surge`); a stopped or idle one just
   * points its web gears at the release (`retire`, which here only converges).
   */
  async startRollout(repos: Repos, app: App, d: Deployment): Promise<{ stage: 'surge' | 'retire'; dispatch: Operation['dispatch']; first: boolean }> {
    // An app of named services only has no web cartridge: its services are all the release runs.
    const webCartridge = this.catalog.webOf((app.cartridges ?? []).map((c) => c.cartridge));
    if (!webCartridge && Object.keys(d.services ?? {}).length === 0) this.apps.webOf(app);
    const web = webCartridge?.manifest.name;
    const webGears = (app.gears ?? []).filter((g) => g.cartridge === web && !g.process && !g.service);
    await repos.deployments.update(d.id, { state: 'rolling-out' });
    // Stopped because its first release failed: the next deployment is the app starting.
    const stoppedAfterFirstFailure =
      app.desiredState === 'stopped' &&
      !app.activeDeploymentId &&
      (await repos.deployments.forApp(app.id, 2)).some((x) => x.id !== d.id && x.state === 'failed');
    const plan = planRolloutStart({
      desiredState: app.desiredState,
      // Without a web cartridge, the services' gears are what starts first.
      webGears: webCartridge ? webGears.length : (app.gears ?? []).some((g) => g.service) ? 1 : 0,
      minGears: webCartridge?.manifest.scaling?.min ?? 1,
      stoppedAfterFirstFailure,
    });
    if (plan.start) {
      await repos.apps.update(app.id, { desiredState: 'started' });
      app.desiredState = 'started';
    }
    const release = { id: d.id, services: d.services ?? {} };
    // The nodes may have filled while it built: a release they cannot take fails now, with its whole need, before
    // any of its gears is placed (see OperationsService.applyReport).
    await this.apps.checkReleaseRoom(repos, app, { web: webCartridge ?? null, webGears: plan.addGears ?? 0, services: release.services }, '');
    if (plan.addGears === null) {
      await repos.apps.setRelease(
        webGears.map((g) => g.id),
        d.id,
      );
      // Nothing serves: the services' gears of the release take the place of the ones before at once.
      await repos.apps.removeGears((app.gears ?? []).filter((g) => g.service).map((g) => g.id));
      const nodes = await this.apps.addServiceGears(repos, app, release);
      return { stage: plan.stage, dispatch: convergeAll(app.gears ?? [], nodes), first: plan.first };
    }
    const nodes = webCartridge ? await this.apps.addReleaseGears(repos, app, plan.addGears, d.id) : [];
    // Its Procfile's workers surge too: a worker that cannot start fails the release while the old ones keep running.
    // The first gears of an app have no workers beside them to keep running: they come once the release serves.
    if (webCartridge && (!plan.first || (app.gears ?? []).some((g) => g.process))) {
      const replaced = app.activeDeploymentId ? await repos.deployments.findById(app.activeDeploymentId) : null;
      nodes.push(...(await this.apps.addProcessGears(repos, app, { id: d.id, processes: d.processes ?? {} }, replaced?.processes ?? {})));
    }
    // Every service of the release surges beside the gears of the one before, in one rollout with the web gears.
    nodes.push(...(await this.apps.addServiceGears(repos, app, release)));
    return { stage: plan.stage, dispatch: convergeAll(app.gears ?? [], nodes), first: plan.first };
  }

  // ---- stages (StageHandler) -----------------------------------------------------------------------------------

  async job(op: Operation, app: App, nodeId: string): Promise<NodeJob> {
    return { name: 'app.build', data: await this.buildJob(op, app, nodeId) };
  }

  private async buildJob(op: Operation, app: App, nodeId: string): Promise<BuildJob> {
    const { deploymentId } = contextOf(op, 'app.deploy');
    const d = await this.deploymentsRepository.findById(deploymentId);
    if (!d) throw new Error(`deployment ${deploymentId} is gone`);
    const own = this.catalog.webOf((app.cartridges ?? []).map((c) => c.cartridge));
    // A release of named services only builds their images; the base and recipe below are then the first one's.
    const built = Object.entries(d.services ?? {}).filter(([, s]) => s.build);
    const web = own ?? this.catalog.find(built[0]?.[1].cartridge ?? IMAGE_CARTRIDGE) ?? this.apps.webOf(app);
    const specs = await this.specs.specs(app);
    const onNode = (s: (typeof specs)[number]) => app.gears!.find((g) => g.id === s.gearId)?.nodeId === nodeId;
    // Before its first release an app whose runtime was detected has no web gear; its services share the network.
    const webSpec = specs.find((s) => s.web && onNode(s));
    const network = (webSpec ?? specs.find(onNode))?.network ?? '';
    const shape = await this.specs.shapeOf(app);
    const secrets = secretValues(shape, this.catalog.cartridges, d.env);
    const build = web.manifest.build;
    // What the cartridges publish (DATABASE_URL …), as a gear on the building node sees it: from the web gear's own
    // environment, or, before the first release of a detected runtime (no web gear yet), from the publishers.
    const published = Object.fromEntries(publishedVars(shape, this.catalog.cartridges, nodeId).map((p) => [p.name, p.value]));
    const env = { ...(webSpec?.env ?? published), ...d.env, GEARSHIFT_RELEASE: String(d.number) };
    // A release of named services only runs its release step in a service's image: the one whose Procfile names it,
    // else (a deploy hook) the first built; with the app's environment, that service's and what the cartridges publish.
    const releasing = own ? undefined : (built.find(([, s]) => s.release) ?? (d.hooks.deploy ? built[0] : undefined));
    const serviceEnv = releasing
      ? {
          ...d.env,
          ...(releasing[1].env ?? {}),
          ...published,
          GEARSHIFT_SERVICE: releasing[0],
          GEARSHIFT_RELEASE: String(d.number),
        }
      : env;
    return {
      operationId: op.id,
      appId: app.id,
      deploymentId: d.id,
      sourceUrl: `/api/v1/deployments/${d.id}/source?token=${d.sourceToken}`,
      base: web.manifest.image['from-app']
        ? { ref: (app.cartridges ?? []).find((c) => c.cartridge === web.manifest.name)?.options?.image ?? '' }
        : web.manifest.image.ref
          ? { ref: web.manifest.image.ref }
          : { build: { cartridge: web.manifest.name, hash: web.hash } },
      recipe: build
        ? {
            workdir: build.workdir,
            dependencies: [...(build.dependencies ?? [])],
            install: build.install,
            compile: build.compile,
            ...(build['compile-needs'] ? { compileNeeds: { ...build['compile-needs'] } } : {}),
            port: web.manifest.endpoints.find((e) => e.public && e.protocol === 'http')?.port,
            command: build.command ? [...build.command] : web.manifest.command ? [...web.manifest.command] : undefined,
            user: web.manifest.user,
            hooks: { preBuild: d.hooks['pre-build'], build: d.hooks.build },
          }
        : null,
      tag: this.imageTag(app, d.number),
      ...(built.length > 0 ? { services: built.map(([name, s]) => this.serviceBuild(app, name, s)) } : {}),
      ...(own ? {} : { onlyServices: true }),
      push: Boolean(this.config.registry),
      labels: { 'gearshift.release': String(d.number) },
      limits: { memoryMb: this.config.buildMemoryMb, timeoutSeconds: this.config.buildTimeoutSeconds },
      release: releasing
        ? {
            command: releasing[1].release ? procfileCommand(releasing[1].release) : ['sh', '-c', d.hooks.deploy!],
            image: releasing[1].image,
            network,
            env: serviceEnv,
            security: gearSecurity(this.catalog.find(releasing[1].cartridge)?.manifest.security),
            ...(releasing[1].release ? { name: 'release' as const } : {}),
          }
        : !own
          ? undefined
          : d.processes?.release
            ? { command: procfileCommand(d.processes.release), network, env, security: gearSecurity(web.manifest.security), name: 'release' }
            : d.hooks.deploy
              ? { command: ['sh', '-c', d.hooks.deploy], network, env, security: gearSecurity(web.manifest.security) }
              : undefined,
      secrets,
    };
  }

  /** How a node builds one named service's image: from its folder, with its Dockerfile or its runtime's recipe. */
  private serviceBuild(app: App, name: string, s: ReleaseService): ServiceBuild {
    const c = this.catalog.find(s.cartridge);
    if (!c) throw new Error(`service ${name} is built on ${s.cartridge}, which is not in the catalogue`);
    const build = c.manifest.build;
    const base = c.manifest.image['from-app'] ? (s.runtime ? this.catalog.find(s.runtime) : undefined) : c;
    return {
      name,
      context: s.build!.context,
      ...(s.build!.dockerfile ? { dockerfile: s.build!.dockerfile } : {}),
      ...(s.build!.target ? { target: s.build!.target } : {}),
      // A folder with its own Dockerfile (run as docker-image, which names no image of its own): its Dockerfile says
      // what it starts from, and may start from the image of the runtime its files call for.
      ...(base ? { base: base.manifest.image.ref ? { ref: base.manifest.image.ref } : { build: { cartridge: base.manifest.name, hash: base.hash } } } : {}),
      recipe:
        build && !c.manifest.image['from-app']
          ? {
              workdir: build.workdir,
              dependencies: [...(build.dependencies ?? [])],
              install: build.install,
              compile: build.compile,
              ...(build['compile-needs'] ? { compileNeeds: { ...build['compile-needs'] } } : {}),
              port: s.port ?? c.manifest.endpoints.find((e) => e.public && e.protocol === 'http')?.port,
              command: build.command ? [...build.command] : c.manifest.command ? [...c.manifest.command] : undefined,
              user: c.manifest.user,
              hooks: {},
            }
          : null,
      tag: s.image,
      ...(serviceStart(s) ? { start: serviceStart(s) } : {}),
    };
  }

  private imageTag(app: App, number: number): string {
    // The app's whole id: releases of two apps never share a repository (rollback reads the name each one recorded).
    return releaseImage(this.config.registry, this.config.instance, app.id, number);
  }

  async convergeExtras(op: Operation, app: App, nodeId: string): Promise<Partial<NodeJobs['app.converge']>> {
    // The gears a rollback removes never passed their health check, so never took traffic: nothing to drain.
    const context = contextOf(op, 'app.deploy', 'app.activate');
    if (context.stage === 'rollback') return { drainMs: 0 };
    if (context.stage !== 'retire') return {};
    const d = await this.deploymentsRepository.findById(context.deploymentId);
    const kept = (await this.deploymentsRepository.forApp(app.id, 1000))
      .filter((x) => !x.pruned)
      .flatMap((x) => [...(x.image ? [x.image] : []), ...Object.values(x.services ?? {}).map((s) => s.image)]);
    const extras: Partial<NodeJobs['app.converge']> = { keepImages: kept };
    // The hook runs in a web gear of the release (a worker may serve nothing and need nothing of what the hook does).
    const own = (app.gears ?? []).filter((g) => g.deploymentId === d?.id);
    const first = own.find((g) => !g.process && !g.service) ?? own.find((g) => !g.process);
    if (d?.hooks['post-deploy'] && first?.nodeId === nodeId && op.kind === 'app.deploy') {
      extras.after = { gearId: first.id, command: ['sh', '-c', d.hooks['post-deploy']] };
    }
    return extras;
  }

  async log(op: Operation, lines: string[], tx: Tx): Promise<void> {
    const repos = tx.pick(REPOS);
    const { deploymentId } = contextOf(op, 'app.deploy', 'app.activate');
    if (deploymentId) await repos.deployments.appendLog(deploymentId, lines);
  }

  async next(tx: Tx, op: Operation, outcome: StageOutcome) {
    const repos = tx.pick(REPOS);
    const context = contextOf(op, 'app.deploy', 'app.activate');
    const d = await repos.deployments.findById(context.deploymentId);
    const app = op.appId ? await repos.apps.findById(op.appId) : null;
    if (!d || !app) return null;
    const now = new Date();
    const decision = nextDeploymentStage({ stage: context.stage, outcome, release: d, activeDeploymentId: app.activeDeploymentId, gears: app.gears ?? [] });
    if (!decision) return null;
    await repos.apps.removeGears(decision.removeGears);
    const buildSeconds = (now.getTime() - d.createdAt.getTime()) / 1000;
    switch (decision.release?.kind) {
      case 'build-failed':
        await repos.deployments.update(d.id, { state: 'failed', error: decision.release.error, finishedAt: now, sourceToken: null });
        this.metrics.buildEnded('failed', buildSeconds);
        this.metrics.deploymentEnded('build_failed');
        break;
      case 'built':
        // A release of named services only has no image of the web cartridge's.
        await repos.deployments.update(d.id, { image: context.image ? String(context.image) : null, dockerfile: context.dockerfile, sourceToken: null });
        this.metrics.buildEnded('built', buildSeconds);
        break;
      case 'rolled-back':
        await repos.deployments.update(d.id, { state: 'failed', error: decision.release.error, finishedAt: now });
        this.metrics.deploymentEnded('rolled_back');
        break;
      case 'activate':
        await this.activated(repos, app, d, now);
        this.metrics.deploymentEnded('activated');
        break;
    }
    // The host names of web services are held for the release that serves: the one activated, or after a failure the
    // one before, which goes on serving.
    if (decision.release?.kind === 'activate') await repos.aliases.releaseServiceHosts(app.id, [...serviceHostsOf(d.services ?? {}).keys()]);
    else if (decision.release?.kind === 'build-failed' || decision.release?.kind === 'rolled-back') await this.keepServingHosts(repos, app);
    // The starter app would go on answering at its URL as if the deployment had worked; instead the app stops, and
    // the router's page for it gives the reason (see RoutesService).
    if (decision.stopApp) await repos.apps.update(app.id, { desiredState: 'stopped' });
    if (decision.startRollout) {
      const started = await this.startRollout(repos, app, { ...d, image: context.image ? String(context.image) : null });
      op.context = { ...op.context, stage: started.stage };
      return { dispatch: started.dispatch, step: rolloutStartStep(d.number, started) };
    }
    if (decision.stage) op.context = { ...op.context, stage: decision.stage };
    return { dispatch: decision.dispatch, step: decision.step, ...(decision.error !== undefined ? { error: decision.error } : {}) };
  }

  /** Lets go of host names only a release that did not come to serve named. */
  private async keepServingHosts(repos: Repos, app: App): Promise<void> {
    const serving = app.activeDeploymentId ? await repos.deployments.findById(app.activeDeploymentId) : null;
    await repos.aliases.releaseServiceHosts(app.id, [...serviceHostsOf(serving?.services ?? {}).keys()]);
  }

  private async activated(repos: Repos, app: App, d: Deployment, now: Date): Promise<void> {
    const previous = app.activeDeploymentId && app.activeDeploymentId !== d.id ? await repos.deployments.findById(app.activeDeploymentId) : null;
    if (app.activeDeploymentId && app.activeDeploymentId !== d.id) await repos.deployments.update(app.activeDeploymentId, { state: 'inactive' });
    await repos.deployments.update(d.id, { state: 'active', finishedAt: now, error: null });
    // The release runs with the environment and health check it was deployed (or last ran) with.
    await repos.apps.update(app.id, { activeDeploymentId: d.id, env: d.env, health: d.health });
    // Workers run the release that serves. After a surge they are its own already (the old ones retired); without one
    // (a stopped app, a first release) they follow it forward, or back, here.
    const current = await repos.apps.findById(app.id);
    if (current && this.catalog.webOf((current.cartridges ?? []).map((c) => c.cartridge)))
      await this.apps.followRelease(repos, current, d, previous?.processes ?? {});
    if (current) await this.apps.followServices(repos, current, d);
    for (const old of await repos.deployments.prunable(app.id, this.config.keepReleases, d.id)) {
      await repos.deployments.update(old.id, { pruned: true });
    }
  }

  async ended(op: Operation): Promise<void> {
    const context = contextOf(op, 'app.deploy', 'app.activate');
    const id = context.deploymentId;
    if (!id) return;
    rmSync(this.sources.path(id), { force: true });
    if (op.state === 'failed' && context.stage === 'surge' && op.appId) await this.dropSurge(op.appId, id);
    const d = await this.deploymentsRepository.findById(id);
    if (d && (d.state === 'building' || d.state === 'rolling-out') && op.state === 'failed') {
      await this.deploymentsRepository.update(id, { state: 'failed', error: op.error, finishedAt: new Date(), sourceToken: null });
    }
    // Releases this one pushed out of the kept count leave the registry too.
    if (this.config.registry) void this.janitor.sweep().catch((err: Error) => this.logger.warn(`cleaning the registry: ${err.message}`));
  }

  /**
   * A deployment cancelled (or timed out) while the gears of its release were starting beside the serving ones leaves
   * the app as it was: those gears go, and the serving ones, which never stopped, go on. Their containers leave their
   * nodes at the next heartbeat, as any container of a gear that no longer exists, including those a node was still
   * creating for the ended operation. Without serving gears beside them (a first release) they stay, as a failed
   * first release leaves them.
   */
  private async dropSurge(appId: string, deploymentId: string): Promise<void> {
    await this.uow.run(REPOS, async (repos) => {
      const gears = (await repos.apps.findById(appId))?.gears ?? [];
      // Its workers went beside the old ones too (see startRollout), and go with its web gears.
      const fresh = gears.filter((g) => g.deploymentId === deploymentId);
      const serving = gears.filter((g) => g.deploymentId !== deploymentId && !g.process);
      if (fresh.length > 0 && serving.length > 0) await repos.apps.removeGears(fresh.map((g) => g.id));
    });
  }
}
