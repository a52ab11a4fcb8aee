import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArchiveError, inspectArchive, type ArchiveSummary, type BuildJob, type NodeJob, type NodeJobs } from '@gearshift/cartridges';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { conflict, GearshiftError, notFound, ruleViolation } from '../common/errors';
import type { Tx } from '../database/unit-of-work';
import { DeploymentsRepository } from '../apps/deployments.repository';
import { AppAccess } from '../apps/app-access.service';
import { CHANGE_REPOS, ChangeRunner, type ChangeRepos } from '../changes/change-runner';
import { AppGears } from '../lifecycle/app-gears.service';
import type { App } from '../apps/app.entity';
import { GearSpecsService } from '../apps/gear-specs.service';
import { publishedVars } from '../apps/gear-specs';
import { CatalogService } from '../cartridges/catalog.service';
import { OperationsService, presentOperation, type StageHandler, type StageOutcome } from '../operations/operations.service';
import type { Operation } from '../operations/operation.entity';
import { contextOf, newContext } from '../operations/contexts';
import { convergeAll, nextDeploymentStage, planRolloutStart, rolloutStartStep } from './rollout-stages';
import type { User } from '../users/user.entity';
import { RegistryJanitor } from './registry-janitor';
import { DeploymentSources, type SourceUpload } from './sources';
import { DETECTED_FILES, detectRuntime } from './detect-runtime';
import { type Deployment, type DeploymentSource } from '../apps/deployment.entity';

/** A stage writes what a change to an app writes (see ChangeRunner). */
const REPOS = CHANGE_REPOS;
type Repos = ChangeRepos;

/** Environment variable names whose values are kept out of build and hook output. */
const SECRET_NAME = /(SECRET|PASSWORD|PASSWD|TOKEN|KEY|CREDENTIAL|PRIVATE)/i;

export const presentDeployment = (d: Deployment, withLog = false) => ({
  id: d.id,
  number: d.number,
  state: d.state,
  source: d.source,
  image: d.pruned ? null : d.image,
  dockerfile: d.dockerfile,
  hooks: Object.keys(d.hooks),
  health: d.health,
  error: d.error,
  operation: d.operationId,
  createdAt: d.createdAt,
  finishedAt: d.finishedAt,
  ...(withLog ? { log: d.log } : {}),
});

/**
 * Deployments: source in, an immutable release out, rolled out without downtime. One operation runs in stages:
 * `build` (a node builds and pushes the image, then runs the deploy hook), `surge` (gears of the new release start
 * beside the old ones and pass their health checks), `retire` (the old gears leave the router, drain and stop). A
 * release whose gears never get healthy is taken out again (`rollback`) and the old one keeps serving.
 */
@Injectable()
export class DeploymentsService implements OnModuleInit, StageHandler {
  private readonly logger = new Logger('deployments');

  constructor(
    private readonly deploymentsRepository: DeploymentsRepository,
    private readonly sources: DeploymentSources,
    private readonly apps: AppGears,
    private readonly access: AppAccess,
    private readonly changes: ChangeRunner,
    private readonly operations: OperationsService,
    private readonly specs: GearSpecsService,
    private readonly catalog: CatalogService,
    private readonly janitor: RegistryJanitor,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

  onModuleInit(): void {
    this.operations.registerStages('app.deploy', this);
    this.operations.registerStages('app.activate', this);
  }

  async list(user: User, domainName: string, appName: string) {
    const { app } = await this.access.requireApp(user, domainName, appName);
    return (await this.deploymentsRepository.forApp(app.id)).map((d) => ({ ...presentDeployment(d), active: d.id === app.activeDeploymentId }));
  }

  private async requireDeployment(app: App, ref: string): Promise<Deployment> {
    const all = await this.deploymentsRepository.forApp(app.id, 1000);
    const d = all.find((x) => String(x.number) === ref || x.id === ref);
    if (!d) throw notFound(`deployment "${ref}" of app "${app.name}"`);
    return d;
  }

  async get(user: User, domainName: string, appName: string, ref: string) {
    const { app } = await this.access.requireApp(user, domainName, appName);
    const d = await this.requireDeployment(app, ref);
    return { ...presentDeployment(d, true), active: d.id === app.activeDeploymentId };
  }

  async deploy(user: User, domainName: string, appName: string, upload: SourceUpload, waitSeconds?: number) {
    const { domain, app } = await this.access.requireApp(user, domainName, appName);
    if (upload.archive.length > this.config.maxUploadBytes) {
      throw new GearshiftError('too_large', `the source archive is larger than the limit of ${Math.round(this.config.maxUploadBytes / 1024 / 1024)} MB`);
    }
    let summary: ArchiveSummary;
    try {
      summary = await inspectArchive(upload.archive, this.config.maxUnpackedBytes);
    } catch (err) {
      if (err instanceof ArchiveError) {
        throw new GearshiftError('rule_violation', `the source archive was refused: ${err.message}`, [
          { pointer: `/archive${err.entry ? `/${err.entry}` : ''}`, rule: err.rule, message: err.message },
        ]);
      }
      throw err;
    }
    const paths = new Set(summary.paths);
    // An app without a web cartridge gets the one its files call for, as other platforms' buildpacks detect them.
    const named = this.catalog.webOf((app.cartridges ?? []).map((c) => c.cartridge));
    const detected = named ? null : detectRuntime(paths, this.catalog.cartridges);
    if (!named && !detected) {
      throw ruleViolation(
        '/archive',
        'runtime-detected',
        `app "${app.name}" has no web cartridge and its code does not say which runtime it needs: none of ${DETECTED_FILES} is at the root of the tree; add one, or add a web cartridge to the app (POST .../cartridges or gearshift.yml)`,
      );
    }
    const web = named ?? detected!.cartridge;
    if (!web.manifest.build && !paths.has('Dockerfile')) {
      throw ruleViolation('/archive', 'buildable', `${web.manifest.name} has no build recipe; add a Dockerfile at the root of the source`);
    }
    const descriptor = this.sources.descriptorOf(summary);
    const hooks = this.sources.hooksOf(descriptor, paths);
    const id = randomUUID();
    mkdirSync(join(this.config.dataDir, 'sources'), { recursive: true });
    writeFileSync(this.sources.path(id), upload.archive, { mode: 0o600 });
    let op: Operation;
    try {
      op = await this.changes.begin(
        app,
        async (repos) => {
          const current = await repos.apps.findById(app.id);
          const buildNode = detected ? await this.apps.adoptWebCartridge(repos, current!, web) : this.buildNode(current!);
          const number = await repos.deployments.nextNumber(app.id);
          const source: DeploymentSource = {
            kind: upload.kind,
            bytes: upload.archive.length,
            files: summary.files,
            ...(upload.url ? { url: upload.url } : {}),
            ...(upload.ref ? { ref: upload.ref } : {}),
            ...(upload.commit ? { commit: upload.commit } : {}),
          };
          await repos.deployments.create({
            id,
            appId: app.id,
            number,
            state: 'building',
            source,
            env: current!.env,
            // The health check travels with the code it checks: a source with a gearshift.yml says it (or keeps the
            // cartridge's by saying nothing); otherwise the app's setting holds.
            health: descriptor ? (descriptor.health ?? null) : current!.health,
            hooks,
            sourceToken: randomBytes(24).toString('base64url'),
            userId: user.id,
          });
          const what = upload.commit ? `commit ${upload.commit.slice(0, 10)}` : `${summary.files} file(s)`;
          const created = await this.operations.create(
            repos,
            'app.deploy',
            app.id,
            user,
            [{ nodeId: buildNode, job: 'app.build' }],
            `deploy release ${number} of ${app.name} from ${what}`,
            newContext('app.deploy', {
              stage: 'build',
              deploymentId: id,
              previousDeploymentId: current!.activeDeploymentId,
            }),
          );
          await repos.deployments.update(id, { operationId: created.id });
          if (detected) {
            created.steps = [
              ...created.steps,
              { at: new Date().toISOString(), text: `detected ${detected.runtime} (${detected.because}): the app's web cartridge is ${web.manifest.name}` },
            ];
            await repos.operations.save(created);
          }
          return created;
        },
        { lock: 'placement', busyHint: 'one deployment runs at a time, try again when it ends' },
      );
    } catch (err) {
      rmSync(this.sources.path(id), { force: true });
      throw err;
    }
    return this.respond(op, domain.name, app, waitSeconds);
  }

  /** Makes an earlier release serve again: no build, the same rollout. */
  async activate(user: User, domainName: string, appName: string, ref: string, waitSeconds?: number) {
    const { domain, app } = await this.access.requireApp(user, domainName, appName);
    const target = await this.requireDeployment(app, ref);
    if (target.id === app.activeDeploymentId) throw conflict(`release ${target.number} is already active`);
    if (target.state === 'failed' || !target.image)
      throw ruleViolation('/deployment', 'activatable', `release ${target.number} failed (${target.error ?? 'no image'}); it cannot serve`);
    if (target.pruned)
      throw ruleViolation(
        '/deployment',
        'kept',
        `the image of release ${target.number} was removed (only the newest ${this.config.keepReleases} are kept); deploy it again`,
      );
    if (target.state === 'building' || target.state === 'rolling-out') throw conflict(`release ${target.number} is still being deployed`);
    const op = await this.changes.begin(
      app,
      async (repos) => {
        const current = (await repos.apps.findById(app.id))!;
        const stage = await this.startRollout(repos, current, target);
        const created = await this.operations.create(
          repos,
          'app.activate',
          app.id,
          user,
          stage.dispatch,
          `activate release ${target.number} of ${app.name}`,
          newContext('app.activate', {
            stage: stage.stage,
            deploymentId: target.id,
            previousDeploymentId: current.activeDeploymentId,
          }),
        );
        return created;
      },
      { lock: 'placement' },
    );
    return this.respond(op, domain.name, app, waitSeconds);
  }

  private async respond(op: Operation, domainName: string, app: App, waitSeconds?: number) {
    const done = await this.changes.sendAndWait(op, waitSeconds);
    const d = await this.deploymentsRepository.findById(contextOf(done, 'app.deploy', 'app.activate').deploymentId);
    return { app: app.name, domain: domainName, deployment: d ? presentDeployment(d) : null, operation: presentOperation(done) };
  }

  /** Builds run where the app's web gears are (with its services, its network is there for the deploy hook). */
  private buildNode(app: App): string {
    const web = this.apps.webOf(app).manifest.name;
    const gear = (app.gears ?? []).find((g) => g.cartridge === web) ?? app.gears?.[0];
    if (!gear) throw new GearshiftError('no_capacity', `app "${app.name}" has no gear on any node to build on; scale it up first`);
    return gear.nodeId;
  }

  private imageTag(app: App, number: number): string {
    const repo = `gearshift-apps/${this.config.instance}-${app.id.slice(0, 8)}`;
    return `${this.config.registry ? `${this.config.registry}/` : ''}${repo}:${number}`;
  }

  /**
   * The first stage of a rollout. A serving app gets new gears beside the old (`surge`); a stopped or idle one just
   * points its web gears at the release (`retire`, which here only converges).
   */
  private async startRollout(repos: Repos, app: App, d: Deployment): Promise<{ stage: 'surge' | 'retire'; dispatch: Operation['dispatch']; first: boolean }> {
    const webCartridge = this.apps.webOf(app);
    const web = webCartridge.manifest.name;
    const webGears = (app.gears ?? []).filter((g) => g.cartridge === web);
    await repos.deployments.update(d.id, { state: 'rolling-out' });
    // Stopped because its first release failed: the next deployment is the app starting.
    const stoppedAfterFirstFailure =
      app.desiredState === 'stopped' &&
      !app.activeDeploymentId &&
      (await repos.deployments.forApp(app.id, 2)).some((x) => x.id !== d.id && x.state === 'failed');
    const plan = planRolloutStart({
      desiredState: app.desiredState,
      webGears: webGears.length,
      minGears: webCartridge.manifest.scaling?.min ?? 1,
      stoppedAfterFirstFailure,
    });
    if (plan.start) {
      await repos.apps.update(app.id, { desiredState: 'started' });
      app.desiredState = 'started';
    }
    if (plan.addGears === null) {
      await repos.apps.setRelease(
        webGears.map((g) => g.id),
        d.id,
      );
      return { stage: plan.stage, dispatch: convergeAll(app.gears ?? []), first: plan.first };
    }
    const nodes = await this.apps.addReleaseGears(repos, app, plan.addGears, d.id);
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
    const web = this.apps.webOf(app);
    const specs = await this.specs.specs(app);
    const onNode = (s: (typeof specs)[number]) => app.gears!.find((g) => g.id === s.gearId)?.nodeId === nodeId;
    // Before its first release an app whose runtime was detected has no web gear; its services share the network.
    const webSpec = specs.find((s) => s.web && onNode(s));
    const network = (webSpec ?? specs.find(onNode))?.network ?? '';
    const shape = await this.specs.shapeOf(app);
    const published = publishedVars(shape, this.catalog.cartridges);
    const secrets = [
      ...(app.cartridges ?? []).flatMap((c) => Object.values(c.generated)),
      ...published.filter((p) => p.secret).map((p) => p.value),
      ...Object.entries(d.env)
        .filter(([k]) => SECRET_NAME.test(k))
        .map(([, v]) => v),
    ];
    const build = web.manifest.build;
    const env = { ...(webSpec?.env ?? {}), ...d.env, GEARSHIFT_RELEASE: String(d.number) };
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
            port: web.manifest.endpoints.find((e) => e.public && e.protocol === 'http')?.port,
            command: build.command ? [...build.command] : web.manifest.command ? [...web.manifest.command] : undefined,
            user: web.manifest.user,
            hooks: { preBuild: d.hooks['pre-build'], build: d.hooks.build },
          }
        : null,
      tag: this.imageTag(app, d.number),
      push: Boolean(this.config.registry),
      labels: { 'gearshift.release': String(d.number) },
      limits: { memoryMb: this.config.buildMemoryMb, timeoutSeconds: this.config.buildTimeoutSeconds },
      release: d.hooks.deploy ? { command: ['sh', '-c', d.hooks.deploy], network, env } : undefined,
      secrets,
    };
  }

  async convergeExtras(op: Operation, app: App, nodeId: string): Promise<Partial<NodeJobs['app.converge']>> {
    // The gears a rollback removes never passed their health check, so never took traffic: nothing to drain.
    const context = contextOf(op, 'app.deploy', 'app.activate');
    if (context.stage === 'rollback') return { drainMs: 0 };
    if (context.stage !== 'retire') return {};
    const d = await this.deploymentsRepository.findById(context.deploymentId);
    const kept = (await this.deploymentsRepository.forApp(app.id, 1000)).filter((x) => x.image && !x.pruned).map((x) => x.image!);
    const extras: Partial<NodeJobs['app.converge']> = { keepImages: kept };
    const first = (app.gears ?? []).find((g) => g.deploymentId === d?.id);
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
    switch (decision.release?.kind) {
      case 'build-failed':
        await repos.deployments.update(d.id, { state: 'failed', error: decision.release.error, finishedAt: now, sourceToken: null });
        break;
      case 'built':
        await repos.deployments.update(d.id, { image: String(context.image), dockerfile: context.dockerfile, sourceToken: null });
        break;
      case 'rolled-back':
        await repos.deployments.update(d.id, { state: 'failed', error: decision.release.error, finishedAt: now });
        break;
      case 'activate':
        await this.activated(repos, app, d, now);
        break;
    }
    // The starter app would go on answering at its URL as if the deployment had worked; instead the app stops, and
    // the router's page for it gives the reason (see RoutesService).
    if (decision.stopApp) await repos.apps.update(app.id, { desiredState: 'stopped' });
    if (decision.startRollout) {
      const started = await this.startRollout(repos, app, { ...d, image: String(context.image) });
      op.context = { ...op.context, stage: started.stage };
      return { dispatch: started.dispatch, step: rolloutStartStep(d.number, started) };
    }
    if (decision.stage) op.context = { ...op.context, stage: decision.stage };
    return { dispatch: decision.dispatch, step: decision.step, ...(decision.error !== undefined ? { error: decision.error } : {}) };
  }

  private async activated(repos: Repos, app: App, d: Deployment, now: Date): Promise<void> {
    if (app.activeDeploymentId && app.activeDeploymentId !== d.id) await repos.deployments.update(app.activeDeploymentId, { state: 'inactive' });
    await repos.deployments.update(d.id, { state: 'active', finishedAt: now, error: null });
    // The release runs with the environment and health check it was deployed (or last ran) with.
    await repos.apps.update(app.id, { activeDeploymentId: d.id, env: d.env, health: d.health });
    for (const old of await repos.deployments.prunable(app.id, this.config.keepReleases, d.id)) {
      await repos.deployments.update(old.id, { pruned: true });
    }
  }

  async ended(op: Operation): Promise<void> {
    const id = contextOf(op, 'app.deploy', 'app.activate').deploymentId;
    if (!id) return;
    rmSync(this.sources.path(id), { force: true });
    const d = await this.deploymentsRepository.findById(id);
    if (d && (d.state === 'building' || d.state === 'rolling-out') && op.state === 'failed') {
      await this.deploymentsRepository.update(id, { state: 'failed', error: op.error, finishedAt: new Date(), sourceToken: null });
    }
    // Releases this one pushed out of the kept count leave the registry too.
    if (this.config.registry) void this.janitor.sweep().catch((err: Error) => this.logger.warn(`cleaning the registry: ${err.message}`));
  }
}
