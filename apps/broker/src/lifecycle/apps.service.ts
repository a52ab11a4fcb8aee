import { Inject, Injectable, Logger } from '@nestjs/common';
import { aliasViolations, entryName, entryOptions, GEAR_SIZES, gearProcessTypes, type Cartridge, type GearSize } from '@gearshift/cartridges';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { CertificateAuthority } from '../common/certificates';
import { conflict, GearshiftError, notFound, ruleViolation } from '../common/errors';
import { CatalogService } from '../cartridges/catalog.service';
import { isPlacementConflict, placementHoldsCheck } from '../database/placement-check';
import { UnitOfWork } from '../database/unit-of-work';
import { AppAccess } from '../apps/app-access.service';
import type { App, AppSecurityOverride } from '../apps/app.entity';
import type { Deployment } from '../apps/deployment.entity';
import { AppsRepository, type NewGear } from '../apps/apps.repository';
import { checkCartridgeSet, checkOptions, checkScale, checkSize, isWeb } from '../apps/cartridge-rules';
import { generatedFor } from '../apps/generated-values';
import { checkImageSource } from '../apps/release-images';
import { CHANGE_REPOS, ChangeRunner, type Change, type ChangeRepos } from '../changes/change-runner';
import type { Domain } from '../domains/domain.entity';
import { DomainsService } from '../domains/domains.service';
import { Metrics } from '../metrics/metrics';
import { OperationsRepository } from '../operations/operations.repository';
import { OperationsService, presentOperation } from '../operations/operations.service';
import type { Operation } from '../operations/operation.entity';
import { checkQuota, checkTeamQuota } from '../teams/quota';
import type { User } from '../users/user.entity';
import type { AppAction, CreateAppBody, PatchAppBody, ScaleBody } from './apps.dto';
import { AppGears } from './app-gears.service';
import { AppsPresenter } from './apps.presenter';
import { UsersRepository } from '../users/users.repository';

const isUniqueViolation = (err: unknown) => (err as { code?: string })?.code === '23505';

/** The apps API: create, read, change and delete apps; each change runs as one operation (see ChangeRunner). */
@Injectable()
export class AppsService {
  private readonly logger = new Logger('apps');

  constructor(
    private readonly uow: UnitOfWork,
    private readonly appsRepository: AppsRepository,
    private readonly operationsRepository: OperationsRepository,
    private readonly catalog: CatalogService,
    private readonly domains: DomainsService,
    private readonly access: AppAccess,
    private readonly changes: ChangeRunner,
    private readonly operations: OperationsService,
    private readonly appGears: AppGears,
    private readonly presenter: AppsPresenter,
    private readonly ca: CertificateAuthority,
    private readonly users: UsersRepository,
    private readonly metrics: Metrics,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

  async list(user: User, domainName: string) {
    const domain = await this.domains.require(user, domainName, 'read');
    const apps = await this.appsRepository.list(domain.id);
    const values = await this.domains.allows(user, domain, 'develop');
    return Promise.all(apps.map((a) => this.presenter.present(a, domain, undefined, values)));
  }

  async get(user: User, domainName: string, appName: string) {
    const { domain, app } = await this.access.requireApp(user, domainName, appName, 'read');
    return this.presenter.present(app, domain, undefined, await this.domains.allows(user, domain, 'develop'));
  }

  async gears(user: User, domainName: string, appName: string) {
    return (await this.get(user, domainName, appName)).gears;
  }

  /** The app's operations, newest first: what was asked, by whom or by the platform, and why. */
  async operationsOf(user: User, domainName: string, appName: string) {
    const { app } = await this.access.requireApp(user, domainName, appName, 'read');
    const ops = await this.operationsRepository.forApp(app.id, 50);
    const names = await this.users.namesById(ops.flatMap((op) => (op.userId ? [op.userId] : [])));
    // Who asked: the user's name (a user deleted since is "a deleted user"), or the platform's own loops.
    return ops.map((op) => ({ ...presentOperation(op), by: op.userId ? (names.get(op.userId) ?? 'a deleted user') : 'platform' }));
  }

  /**
   * The user's variables, and the variables the app's services publish to its gears (as gears beside them see them).
   * Secret values are masked unless revealed, which needs a developer; the mask keeps a password out of a shared
   * screen or a pasted listing. A viewer sees the names of the user's variables, not their values.
   */
  async env(user: User, domainName: string, appName: string, reveal = false) {
    const { domain, app } = await this.access.requireApp(user, domainName, appName, reveal ? 'develop' : 'read');
    return this.presenter.env(app, domain, reveal, await this.domains.allows(user, domain, 'develop'));
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
    mutate: (repos: ChangeRepos, app: App) => Promise<Change>,
    waitSeconds?: number,
  ) {
    const { domain, app } = await this.access.requireApp(user, domainName, appName, 'develop');
    const op = await this.changes.changeApp(app, user, kind, step, mutate);
    return this.respond(op, domain, waitSeconds);
  }

  /** Sends a change's jobs, waits if asked, and shows the app as it is then (or that it is gone). */
  async respond(op: Operation, domain: Domain, waitSeconds?: number) {
    // The app is read once for its jobs and its answer, unless the answer waits (or the operation ends as it is sent,
    // as a delete with nothing on any node does): then it is read again as it is at the end.
    const sent = op.appId ? await this.appsRepository.findById(op.appId) : null;
    const readAgain = Boolean(waitSeconds) || op.dispatch.length === 0;
    // The nodes its answer names are read while its jobs are sent, when it is not read again.
    const [done, gearNodes] = await Promise.all([
      this.changes.sendAndWait(op, waitSeconds, { app: sent }),
      sent && !readAgain ? this.presenter.nodesOf(sent) : undefined,
    ]);
    const app = op.appId && readAgain ? await this.appsRepository.findById(op.appId) : sent;
    if (!app) return { deleted: true, operation: presentOperation(done) };
    return this.presenter.present(app, domain, done, true, gearNodes);
  }

  async create(user: User, domainName: string, request: CreateAppBody, waitSeconds?: number) {
    const domain = await this.domains.require(user, domainName, 'develop');
    // `nodejs` means the newest current Node.js cartridge; a deprecated one still makes the app, with a warning.
    const { entries, warnings } = this.catalog.resolveEntries(request.cartridges);
    const body = { ...request, cartridges: entries };
    const names = body.cartridges.map(entryName);
    const chosen = checkCartridgeSet(names, this.catalog.cartridges);
    const options = body.cartridges.map(entryOptions);
    chosen.forEach((c, i) => checkOptions(c, options[i], `/cartridges/${i}`));
    // One name on the app's network reaches one thing, as a gearshift.yml's are checked.
    const [taken] = aliasViolations({ cartridges: body.cartridges });
    if (taken) throw ruleViolation(taken.pointer, taken.rule, taken.message);
    // A new app has no release yet: no image in the platform registry is its own.
    for (const [i, c] of chosen.entries()) {
      if (c.manifest.image['from-app'])
        await checkImageSource(options[i].image, { registry: this.config.registry, instance: this.config.instance }, `/cartridges/${i}/image`);
    }
    // Without a web cartridge the app waits for its code, whose files say which runtime it needs.
    const web = chosen.find(isWeb);
    const size: GearSize = body.size ?? 'small';
    chosen.forEach((c, i) => checkSize([c], options[i].size ?? size, options[i].size ? `/cartridges/${i}/size` : '/size'));
    if (!web && body.scale !== undefined)
      throw ruleViolation('/scale', 'web-cartridge', 'scale is the number of web gears; this app has no web cartridge until its code is pushed, scale it then');
    const scale = web ? (body.scale ?? Math.max(1, web.manifest.scaling?.min ?? 1)) : 0;
    if (web) checkScale(web, scale, '/scale');
    const mb = (c: Cartridge) => GEAR_SIZES[options[chosen.indexOf(c)].size ?? size].memoryMb;
    const gearCartridges = [...chosen.filter((c) => !isWeb(c)), ...(web ? Array<Cartridge>(scale).fill(web) : [])];
    // Web gears only: spread over the nodes. `early`: placed from node usage as committed, without the placement lock,
    // which the check at the commit takes (UnitOfWork.runCheckedAtCommit); when their place no longer holds there, the
    // create runs again under the lock from the start.
    const spreads = web !== undefined && chosen.length === 1;
    const record = (early: boolean) =>
      this.uow.runCheckedAtCommit(CHANGE_REPOS, async (repos, tx) => {
        // A name taken in the domain fails the app's insert (unique), answered as 409 below.
        const appFields = { domainId: domain.id, name: body.name, desiredState: 'started' as const, size, env: body.env ?? {} };
        const cartridgeRows = chosen.map((c, i) => ({ cartridge: c.manifest.name, generated: generatedFor(c, this.ca), options: options[i] }));
        let nodes: string[];
        let appId: string;
        let check: string | null = null;
        // Web gears placed, written together with the operation below.
        let newGears: NewGear[] = [];
        if (spreads) {
          // The app's own rows are written before any placement lock is taken (no other transaction sees them until
          // this one commits). The reads are queued behind the insert (and the lock) on the same connection: Postgres
          // gets each the moment the one before it is done, not a turn of this busy event loop later.
          const [inserted, team, , usage] = await Promise.all([
            repos.apps.insert(appFields, cartridgeRows, []),
            repos.teams.ofDomain(domain.id),
            early ? null : tx.lock('placement'),
            repos.nodes.usage(),
          ]);
          appId = inserted;
          await checkTeamQuota(repos.teams, team, gearCartridges.map(mb));
          const placed = await this.appGears.spreadWebGears(repos, usage, {}, web.manifest.name, scale, mb(web), null);
          nodes = placed.nodes;
          newGears = placed.gears;
          if (early) check = placementHoldsCheck(nodes, team);
        } else if (gearCartridges.length === 0) {
          appId = await repos.apps.insert(appFields, cartridgeRows, []);
          nodes = [];
        } else {
          // With services, all of an app's gears share one node and its network.
          const team = await repos.teams.ofDomain(domain.id);
          await tx.lock('placement');
          await checkTeamQuota(repos.teams, team, gearCartridges.map(mb));
          const nodeId = await this.appGears.place(repos, gearCartridges.map(mb));
          appId = await repos.apps.insert(
            appFields,
            cartridgeRows,
            gearCartridges.map((c): NewGear => ({ cartridge: c.manifest.name, nodeId, memoryMb: mb(c) })),
          );
          nodes = [nodeId];
        }
        const dispatch = nodes.map((nodeId) => ({ nodeId, job: 'app.converge' as const }));
        // The gears and the operation go to Postgres one after the other on this connection, without a turn of this
        // event loop between them: while the placement lock is held, every turn holds up the next create.
        const [, created] = await Promise.all([
          repos.apps.addGears(appId, newGears),
          this.operations.create(
            repos,
            'app.create',
            appId,
            user,
            dispatch,
            `create app ${body.name} with ${names.join(', ') || 'no cartridge yet'}${web ? '' : ' (the runtime is detected when code is pushed)'}`,
          ),
        ]);
        return { value: created, check };
      });
    let op: Operation;
    try {
      op = await record(true).then(
        (done) => {
          if (spreads) this.metrics.placementChecked('held');
          return done;
        },
        (err: unknown) => {
          if (!isPlacementConflict(err)) throw err;
          this.metrics.placementChecked('placed_again');
          this.logger.log(`app ${body.name}: ${(err as Error).message}; placing it again under the lock`);
          return record(false);
        },
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw this.nameTaken(body.name, domainName);
      throw err;
    }
    const answer = await this.respond(op, domain, waitSeconds);
    return warnings.length > 0 ? { ...answer, warnings } : answer;
  }

  private nameTaken(name: string, domain: string) {
    return conflict(`an app named "${name}" already exists in domain "${domain}"`, [{ pointer: '/name', rule: 'unique', message: 'is taken' }]);
  }

  async delete(user: User, domainName: string, appName: string, waitSeconds?: number) {
    return this.change(
      user,
      domainName,
      appName,
      'app.delete',
      `delete app ${appName}`,
      async (repos, app) => {
        await repos.apps.update(app.id, { desiredState: 'deleting' });
      },
      waitSeconds,
    );
  }

  async action(user: User, domainName: string, appName: string, action: AppAction, waitSeconds?: number) {
    return this.change(
      user,
      domainName,
      appName,
      `app.${action}`,
      `${action} app ${appName}`,
      async (repos, app) => {
        if (app.desiredState === 'deleting') throw conflict(`app "${appName}" is being deleted`);
        if (action === 'start') await repos.apps.update(app.id, { desiredState: 'started', lastScaledAt: new Date() });
        if (action === 'stop') await repos.apps.update(app.id, { desiredState: 'stopped' });
        if (action === 'restart' || action === 'reload') {
          // An app of named services only has no web cartridge: its services' gears are what serves (and what a
          // reload restarts), so it restarts as an app with one does rather than ask for a web cartridge.
          const web = this.catalog.webOf((app.cartridges ?? []).map((c) => c.cartridge))?.manifest.name;
          if (this.appGears.serving(app)) {
            // Services hold one volume each and cannot run twice: they restart in place, before the new web gears
            // start. The web gears, workers and named services' gears roll out, so the app keeps answering and a
            // restart that breaks it is rolled back.
            const services = (app.cartridges ?? []).map((c) => c.cartridge).filter((c) => c !== web);
            if (action === 'restart' && services.length > 0) await repos.apps.bumpGenerations(app.id, services);
            return this.appGears.surge(repos, app);
          }
          await repos.apps.update(app.id, { desiredState: 'started' });
          // A reload restarts the gears of the app's code: its web cartridge's, else its named services'.
          const code = web ? [web] : [...new Set((app.gears ?? []).filter((g) => g.service || g.process).map((g) => g.cartridge))];
          if (action === 'restart') await repos.apps.bumpGenerations(app.id);
          else if (code.length > 0) await repos.apps.bumpGenerations(app.id, code);
        }
      },
      waitSeconds,
    );
  }

  async patchEnv(user: User, domainName: string, appName: string, patch: Record<string, string | null>, waitSeconds?: number) {
    for (const name of Object.keys(patch)) {
      if (name.startsWith('GEARSHIFT_')) throw ruleViolation(`/${name}`, 'reserved', 'names starting with GEARSHIFT_ are set by the platform');
    }
    return this.change(
      user,
      domainName,
      appName,
      'app.env',
      `change environment (${Object.keys(patch).join(', ')})`,
      async (repos, app) => {
        const env = { ...app.env };
        for (const [k, v] of Object.entries(patch)) {
          if (v === null) delete env[k];
          else env[k] = v;
        }
        // Serving web gears and the workers beside them are replaced by new ones with the new environment, which the
        // app takes once they are all healthy; a stopped or idle app has nothing to keep serving and takes it at once.
        if (this.appGears.serving(app)) return this.appGears.surge(repos, app, { env });
        await this.appGears.setEnv(repos, app, env);
      },
      waitSeconds,
    );
  }

  async unsetEnv(user: User, domainName: string, appName: string, name: string, waitSeconds?: number) {
    const { app } = await this.access.requireApp(user, domainName, appName, 'develop');
    if (!(name in app.env)) throw notFound(`environment variable "${name}" of app "${appName}"`);
    return this.patchEnv(user, domainName, appName, { [name]: null }, waitSeconds);
  }

  async addCartridge(user: User, domainName: string, appName: string, requested: string, waitSeconds?: number) {
    const { entries, warnings } = this.catalog.resolveEntries([requested]);
    const name = entries[0];
    const answer = await this.change(
      user,
      domainName,
      appName,
      'cartridge.add',
      `add cartridge ${name}`,
      async (repos, app) => {
        const current = (app.cartridges ?? []).map((c) => c.cartridge);
        if (current.includes(name)) throw conflict(`app "${appName}" already has cartridge ${name}`);
        const cartridge = this.catalog.find(name);
        if (!cartridge)
          throw new GearshiftError('invalid_input', `/cartridge names "${name}", which is not in the catalogue`, [
            { pointer: '/cartridge', rule: 'known-cartridge', message: 'is not in the catalogue' },
          ]);
        checkCartridgeSet([...current, name], this.catalog.cartridges, '/cartridge');
        checkSize([cartridge], app.size, '/cartridge');
        const memoryMb = GEAR_SIZES[app.size].memoryMb;
        await checkQuota(repos.teams, app.domainId, [memoryMb]);
        const home = app.gears?.[0]?.nodeId;
        const nodeId = await this.appGears.place(repos, [memoryMb], home);
        await repos.apps.addCartridge(app.id, { cartridge: name, generated: generatedFor(cartridge, this.ca) }, [{ cartridge: name, nodeId, memoryMb }]);
        // The web gears get what the new cartridge publishes: a serving app's roll out beside the old ones, which keep
        // what they had, so a service or variables the app cannot start with take the cartridge out again.
        if (this.appGears.serving(app)) return this.appGears.surge(repos, app, { added: name });
        return [nodeId];
      },
      waitSeconds,
    );
    return warnings.length > 0 ? { ...answer, warnings } : answer;
  }

  async removeCartridge(user: User, domainName: string, appName: string, name: string, waitSeconds?: number) {
    return this.change(
      user,
      domainName,
      appName,
      'cartridge.remove',
      `remove cartridge ${name}`,
      async (repos, app) => {
        if (!(app.cartridges ?? []).some((c) => c.cartridge === name)) throw notFound(`cartridge ${name} in app "${appName}"`);
        const c = this.catalog.find(name);
        if (c && isWeb(c)) throw ruleViolation('/cartridge', 'web-cartridge', `${name} is the app's web cartridge; delete the app instead`);
        await repos.apps.removeCartridge(app.id, name);
      },
      waitSeconds,
    );
  }

  /**
   * What an administrator allows the app's docker-image gears beyond the restricted default (`{}` takes it all back);
   * the gears are replaced with it. Only an administrator: an app's owner could otherwise give their image root.
   */
  async setSecurity(user: User, domainName: string, appName: string, body: AppSecurityOverride, waitSeconds?: number) {
    if (!user.isAdmin) throw new GearshiftError('forbidden', "only an administrator can change how an app's gears are confined");
    const override: AppSecurityOverride = {
      ...(body.runAsRoot ? { runAsRoot: true } : {}),
      ...(body.capabilities?.length ? { capabilities: [...body.capabilities].sort() } : {}),
      ...(body.readOnlyRootfs ? { readOnlyRootfs: true } : {}),
    };
    const summary = Object.keys(override).length
      ? `allow docker-image gears ${JSON.stringify(override)}`
      : 'confine docker-image gears by the restricted default';
    return this.change(
      user,
      domainName,
      appName,
      'app.security',
      summary,
      async (repos, app) => {
        await repos.apps.update(app.id, { securityOverride: Object.keys(override).length ? override : null });
      },
      waitSeconds,
    );
  }

  async scale(user: User, domainName: string, appName: string, body: ScaleBody, waitSeconds?: number) {
    // Bounds the wrong way round are refused before any operation begins, for a service and for the app alike.
    if ('min' in body && body.min > body.max) throw ruleViolation('/min', 'range', `must not exceed max (${body.max})`);
    if ('min' in body && body.service !== undefined) {
      const name = body.service;
      return this.change(
        user,
        domainName,
        appName,
        'app.scale',
        `autoscale service ${name} between ${body.min} and ${body.max} gears`,
        async (repos, app) => {
          const release = await this.serviceRelease(repos, app, name);
          if (release.services[name].kind !== 'web')
            throw ruleViolation(
              '/service',
              'web-only',
              `autoscaling follows the requests a web service serves; ${name} is ${release.services[name].kind}: give it a number of gears`,
            );
          // Bounds set by hand stay through later releases, as a number of gears does; the count moves within them.
          const current = (app.gears ?? []).filter((g) => g.service === name).length;
          const within = Math.min(body.max, Math.max(body.min, current));
          await this.appGears.setServiceReplicas(repos, app, name, within, release, {
            scale: within,
            scaled: true,
            autoscale: { min: body.min, max: body.max, targetConcurrency: body.targetConcurrency ?? 10 },
            lastScaledAt: Date.now(),
          });
        },
        waitSeconds,
      );
    }
    if ('min' in body) {
      return this.change(
        user,
        domainName,
        appName,
        'app.scale',
        `autoscale between ${body.min} and ${body.max} gears`,
        async (repos, app) => {
          const web = this.appGears.webOf(app);
          checkScale(web, body.min, '/min');
          checkScale(web, body.max, '/max');
          await repos.apps.update(app.id, { autoscaleMin: body.min, autoscaleMax: body.max, autoscaleTarget: body.targetConcurrency ?? 10 });
          const current = (app.gears ?? []).filter((g) => g.cartridge === web.manifest.name && !g.process && !g.service).length;
          const within = Math.min(body.max, Math.max(body.min, current));
          if (within !== current) await this.appGears.setReplicas(repos, app, within);
        },
        waitSeconds,
      );
    }
    if (body.service !== undefined) {
      const name = body.service;
      return this.change(
        user,
        domainName,
        appName,
        'app.scale',
        `scale service ${name} to ${body.replicas} gear(s)`,
        async (repos, app) => {
          if (body.process !== undefined || body.cartridge !== undefined)
            throw ruleViolation('/service', 'one-target', 'scale a service, a process type or the web cartridge: name one of them');
          const release = await this.serviceRelease(repos, app, name);
          // A service may stop altogether (0); it keeps the scale given by hand through later releases. A number of
          // gears turns an autoscaled service's autoscaling off, as it does an app's.
          await this.appGears.setServiceReplicas(repos, app, name, body.replicas, release);
        },
        waitSeconds,
      );
    }
    if (body.process && body.process !== 'web') {
      const type = body.process;
      return this.change(
        user,
        domainName,
        appName,
        'app.scale',
        `scale process ${type} to ${body.replicas} gear(s)`,
        async (repos, app) => {
          const web = this.appGears.webOf(app);
          const release = app.activeDeploymentId ? await repos.deployments.findById(app.activeDeploymentId) : null;
          if (!release || !gearProcessTypes(release.processes ?? {}).includes(type)) {
            const types = gearProcessTypes(release?.processes ?? {});
            throw ruleViolation(
              '/process',
              'procfile-process',
              `the release app "${app.name}" runs has no process ${type} in its Procfile${types.length ? ` (it has ${types.join(', ')})` : ''}`,
            );
          }
          // A process may stop altogether (0), unlike the web gears; at most as many gears as the web cartridge allows.
          const max = web.manifest.scaling?.max ?? 1;
          if (body.replicas > max) throw ruleViolation('/replicas', 'scaling', `process ${type} runs from 0 to ${max} gears, not ${body.replicas}`);
          await this.appGears.setProcessReplicas(repos, app, type, body.replicas, release);
        },
        waitSeconds,
      );
    }
    return this.change(
      user,
      domainName,
      appName,
      'app.scale',
      `scale to ${body.replicas} gear(s)`,
      async (repos, app) => {
        const web = this.appGears.webOf(app);
        if (body.cartridge && body.cartridge !== web.manifest.name) {
          throw ruleViolation('/cartridge', 'scalable', `only the web cartridge (${web.manifest.name}) scales`);
        }
        checkScale(web, body.replicas, '/replicas');
        // A fixed number of gears turns autoscaling off.
        await repos.apps.update(app.id, { autoscaleMin: null, autoscaleMax: null, autoscaleTarget: null });
        await this.appGears.setReplicas(repos, app, body.replicas);
      },
      waitSeconds,
    );
  }

  /** The release the app serves, which must name the service `name`. */
  private async serviceRelease(repos: ChangeRepos, app: App, name: string): Promise<Deployment> {
    const release = app.activeDeploymentId ? await repos.deployments.findById(app.activeDeploymentId) : null;
    if (!release?.services?.[name]) {
      const names = Object.keys(release?.services ?? {});
      throw ruleViolation(
        '/service',
        'known-service',
        `the release app "${app.name}" runs has no service ${name}${names.length ? ` (it has ${names.join(', ')})` : ''}`,
      );
    }
    return release;
  }

  async patch(user: User, domainName: string, appName: string, body: PatchAppBody, waitSeconds?: number) {
    const { domain, app } = await this.access.requireApp(user, domainName, appName, 'develop');
    if (body.idleAfterSeconds !== undefined) await this.appsRepository.update(app.id, { idleAfterSeconds: body.idleAfterSeconds });
    if (body.health !== undefined) {
      const health = body.health;
      // The check belongs to the release, as its environment does: the running one takes it now (its web gears are
      // replaced and must pass it), and later deployments start from it.
      if (app.activeDeploymentId) {
        const what = health ? `${health.path ?? 'the port'}${health.status !== undefined ? ` answering ${health.status}` : ''}` : "the cartridge's";
        return this.change(
          user,
          domainName,
          appName,
          'app.health',
          `change the health check to ${what}`,
          async (repos, a) => {
            await repos.apps.update(a.id, { health });
            if (a.activeDeploymentId) await repos.deployments.update(a.activeDeploymentId, { health });
          },
          waitSeconds,
        );
      }
      await this.appsRepository.update(app.id, { health });
    }
    return this.presenter.present((await this.appsRepository.findById(app.id))!, domain);
  }
}
