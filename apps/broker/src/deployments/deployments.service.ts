import { Inject, Injectable } from '@nestjs/common';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArchiveError, cronViolations, inspectArchive, parseProcfile, type ArchiveSummary } from '@gearshift/cartridges';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { conflict, GearshiftError, notFound, ruleViolation } from '../common/errors';
import { DeploymentsRepository } from '../apps/deployments.repository';
import { checkImageSource, serviceImage } from '../apps/release-images';
import { AppAccess } from '../apps/app-access.service';
import { ChangeRunner } from '../changes/change-runner';
import { AppGears } from '../lifecycle/app-gears.service';
import type { App } from '../apps/app.entity';
import { CatalogService } from '../cartridges/catalog.service';
import { OperationsService, presentOperation } from '../operations/operations.service';
import type { Operation } from '../operations/operation.entity';
import { contextOf, newContext } from '../operations/contexts';
import type { User } from '../users/user.entity';
import { DeploymentStages } from './deployment-stages.service';
import { DeploymentSources, type SourceUpload } from './sources';
import { DETECTED_FILES, detectRuntime } from './detect-runtime';
import { planServices, releaseLineOf } from './release-services';
import { appHostService } from '../apps/gear-specs';
import { publishedWarnings } from '../apps/gear-specs.service';
import { holdServiceHosts } from '../routes/service-hosts';
import { type Deployment, type DeploymentSource } from '../apps/deployment.entity';

export const presentDeployment = (d: Deployment, withLog = false) => ({
  id: d.id,
  number: d.number,
  state: d.state,
  source: d.source,
  image: d.pruned ? null : d.image,
  dockerfile: d.dockerfile,
  hooks: Object.keys(d.hooks),
  processes: d.processes ?? {},
  services: Object.fromEntries(
    Object.entries(d.services ?? {}).map(([name, s]) => [name, { kind: s.kind, image: d.pruned ? null : s.image, cartridge: s.cartridge }]),
  ),
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
 * release whose gears never get healthy is taken out again (`rollback`) and the old one keeps serving. This class
 * starts those operations; DeploymentStages runs their stages.
 */
@Injectable()
export class DeploymentsService {
  constructor(
    private readonly deploymentsRepository: DeploymentsRepository,
    private readonly sources: DeploymentSources,
    private readonly apps: AppGears,
    private readonly access: AppAccess,
    private readonly changes: ChangeRunner,
    private readonly operations: OperationsService,
    private readonly catalog: CatalogService,
    private readonly stages: DeploymentStages,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

  async list(user: User, domainName: string, appName: string) {
    const { app } = await this.access.requireApp(user, domainName, appName, 'read');
    return (await this.deploymentsRepository.forApp(app.id)).map((d) => ({ ...presentDeployment(d), active: d.id === app.activeDeploymentId }));
  }

  private async requireDeployment(app: App, ref: string): Promise<Deployment> {
    const all = await this.deploymentsRepository.forApp(app.id, 1000);
    const d = all.find((x) => String(x.number) === ref || x.id === ref);
    if (!d) throw notFound(`deployment "${ref}" of app "${app.name}"`);
    return d;
  }

  async get(user: User, domainName: string, appName: string, ref: string) {
    const { app } = await this.access.requireApp(user, domainName, appName, 'read');
    const d = await this.requireDeployment(app, ref);
    return { ...presentDeployment(d, true), active: d.id === app.activeDeploymentId };
  }

  /** A deployment from a git URL: nothing is fetched before the app is known to be the user's. */
  async deployFromGit(user: User, domainName: string, appName: string, git: { url: string; ref?: string }, waitSeconds?: number) {
    await this.access.requireApp(user, domainName, appName, 'develop');
    const upload = await this.sources.fromGit(git.url, git.ref ?? 'main');
    return this.deploy(user, domainName, appName, upload, waitSeconds);
  }

  async deploy(user: User, domainName: string, appName: string, upload: SourceUpload, waitSeconds?: number) {
    const { domain, app } = await this.access.requireApp(user, domainName, appName, 'develop');
    if (upload.archive.length > this.config.maxUploadBytes) {
      throw new GearshiftError('too_large', `the source archive is larger than the limit of ${Math.round(this.config.maxUploadBytes / 1024 / 1024)} MB`);
    }
    let summary: ArchiveSummary;
    try {
      summary = await inspectArchive(upload.archive, this.config.maxUnpackedBytes);
    } catch (err) {
      if (err instanceof ArchiveError) {
        throw new GearshiftError(
          'rule_violation',
          `the source archive was refused: ${err.message}`,
          err.problems.map((p) => ({ pointer: `/archive${p.entry ? `/${p.entry}` : ''}`, rule: p.rule, message: p.message })),
        );
      }
      throw err;
    }
    const paths = new Set(summary.paths);
    const descriptor = this.sources.descriptorOf(summary);
    // The app's named services: each built from its folder (or run from its image) beside the web cartridge's. A
    // source without gearshift.yml takes them from its compose file.
    const composed = descriptor ? null : this.sources.composeServicesOf(summary);
    const planned = composed
      ? planServices(composed.services, summary.paths, this.catalog.cartridges, `/archive/${composed.file}`, true)
      : planServices(descriptor?.services ?? {}, summary.paths, this.catalog.cartridges);
    const hasServices = Object.keys(planned.services).length > 0;
    const hostService = appHostService(planned.services);
    // An app without a web cartridge gets the one its files call for, as other platforms' buildpacks detect them;
    // not when one of its services answers at its host name (its code is in the services' folders).
    const named = this.catalog.webOf((app.cartridges ?? []).map((c) => c.cartridge));
    if (named && hostService)
      throw ruleViolation(
        `/archive/${composed?.file ?? 'gearshift.yml'}/services/${hostService}/hosts`,
        'one-app-host',
        `the app's web cartridge ${named.manifest.name} answers at its host name; give the web service ${hostService} host names of its own, or make it the app's only web code`,
      );
    const detected = named || hostService ? null : detectRuntime(paths, this.catalog.cartridges);
    // A compose file meant to give the app its services, which does not run here, says why by its own fields.
    const blockers = !named && !detected && !hasServices && !descriptor ? this.sources.composeBlockersOf(summary) : [];
    if (blockers.length > 0) {
      const details = blockers.map((b) => ({ pointer: `/archive/${b.file}${b.pointer}`, rule: b.rule ?? 'compose', message: b.reason }));
      throw new GearshiftError(
        'rule_violation',
        `${blockers[0].file} does not run here: ${blockers.map((b) => `${b.pointer} ${b.reason}`).join('; ')}`,
        details,
      );
    }
    if (!named && !detected && !hasServices) {
      throw ruleViolation(
        '/archive',
        'runtime-detected',
        `app "${app.name}" has no web cartridge and its code does not say which runtime it needs: none of ${DETECTED_FILES} is at the root of the tree; add one, or add a web cartridge to the app (POST .../cartridges or gearshift.yml)`,
      );
    }
    const web = named ?? detected?.cartridge ?? null;
    if (web && !web.manifest.build && !paths.has('Dockerfile')) {
      throw ruleViolation('/archive', 'buildable', `${web.manifest.name} has no build recipe; add a Dockerfile at the root of the source`);
    }
    for (const [name, s] of Object.entries(planned.services))
      if (!s.build)
        await checkImageSource(
          s.image,
          { registry: this.config.registry, instance: this.config.instance, appId: app.id },
          `/archive/${composed?.file ?? 'gearshift.yml'}/services/${name}/image`,
        );
    const hooks = this.sources.hooksOf(descriptor, paths);
    // A schedule cron cannot read, or a service the file does not name, is refused with the push, not found out when
    // the entry would have run.
    const badEntry = cronViolations(descriptor?.cron, Object.keys(descriptor?.services ?? {}), this.config.cronMinIntervalS)[0];
    if (badEntry) throw ruleViolation(`/archive/gearshift.yml${badEntry.pointer}`, badEntry.rule, `gearshift.yml ${badEntry.pointer}: ${badEntry.message}`);
    // The Procfile is read for a build with the cartridge's recipe; a repository's Dockerfile says how it starts.
    // A release of named services only builds no image of the web cartridge's for Procfile processes to run in.
    const procfile = web && summary.texts.Procfile !== undefined && !paths.has('Dockerfile') ? parseProcfile(summary.texts.Procfile) : null;
    const processes = Object.fromEntries(procfile?.processes ?? []);
    // Without a web cartridge, a service's folder may carry the Procfile whose release line runs once per deployment.
    const serviceRelease = web ? null : releaseLineOf(planned.services, summary.texts);
    if (serviceRelease) planned.services[serviceRelease.service].release = serviceRelease.line;
    if (serviceRelease && hooks.deploy)
      throw ruleViolation(
        `/archive/${planned.services[serviceRelease.service].build!.context}/Procfile`,
        'one-release-step',
        "a service's Procfile release process and the deploy hook both run once before each release takes traffic; keep one of them",
      );
    if (processes.release && hooks.deploy) {
      throw ruleViolation(
        '/archive/Procfile',
        'one-release-step',
        "the Procfile's release process and the deploy hook both run once before each release takes traffic; keep one of them",
      );
    }
    const id = randomUUID();
    mkdirSync(join(this.config.dataDir, 'sources'), { recursive: true });
    writeFileSync(this.sources.path(id), upload.archive, { mode: 0o600 });
    let op: Operation;
    try {
      op = await this.changes.begin(
        app,
        async (repos) => {
          const current = await repos.apps.findById(app.id);
          const replaced = current!.activeDeploymentId ? await repos.deployments.findById(current!.activeDeploymentId) : null;
          await this.apps.checkReleaseGears(
            repos,
            current!,
            processes,
            replaced?.processes ?? {},
            web,
            planned.services,
            `/archive/${composed?.file ?? 'gearshift.yml'}`,
          );
          // Its web services' own host names are held from the push on, with the rules of aliases; those the serving
          // release names stay held until this one takes its place.
          await holdServiceHosts(
            repos.aliases,
            { id: app.id, teamId: domain.teamId },
            planned.services,
            this.config.appsDomain,
            `/archive/${composed?.file ?? 'gearshift.yml'}`,
          );
          const buildNode = detected
            ? await this.apps.adoptWebCartridge(repos, current!, detected.cartridge)
            : named
              ? this.buildNode(current!)
              : await this.apps.serviceHome(repos, current!);
          const number = await repos.deployments.nextNumber(app.id);
          const services = Object.fromEntries(
            Object.entries(planned.services).map(([name, s]) => [
              name,
              s.build ? { ...s, image: serviceImage(this.config.registry, this.config.instance, app.id, number, name) } : s,
            ]),
          );
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
            processes,
            services,
            cron: descriptor?.cron ?? [],
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
          const said = [
            ...(detected ? [`detected ${detected.runtime} (${detected.because}): the app's web cartridge is ${detected.cartridge.manifest.name}`] : []),
            ...planned.steps,
            ...publishedWarnings(current!, domain.name, this.catalog.cartridges).map((w) => `warning: ${w}`),
          ];
          if (said.length > 0) {
            const at = new Date().toISOString();
            created.steps = [...created.steps, ...said.map((text) => ({ at, text }))];
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
    const { domain, app } = await this.access.requireApp(user, domainName, appName, 'develop');
    const target = await this.requireDeployment(app, ref);
    if (target.id === app.activeDeploymentId) throw conflict(`release ${target.number} is already active`);
    if (target.state === 'failed' || (!target.image && Object.keys(target.services ?? {}).length === 0))
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
        const replaced = current.activeDeploymentId ? await repos.deployments.findById(current.activeDeploymentId) : null;
        await this.apps.checkReleaseGears(repos, current, target.processes ?? {}, replaced?.processes ?? {}, undefined, target.services ?? {}, '/deployment');
        await holdServiceHosts(repos.aliases, { id: app.id, teamId: domain.teamId }, target.services ?? {}, this.config.appsDomain, '/deployment');
        const stage = await this.stages.startRollout(repos, current, target);
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
    const gear = (app.gears ?? []).find((g) => g.cartridge === web && !g.service) ?? app.gears?.[0];
    if (!gear) throw new GearshiftError('no_capacity', `app "${app.name}" has no gear on any node to build on; scale it up first`);
    return gear.nodeId;
  }
}
