import { Inject, Injectable } from '@nestjs/common';
import {
  composeDescriptor,
  composeNotes,
  cronViolations,
  appliedFileName,
  composeProjectName,
  descriptorEnv,
  entryName,
  entryOptions,
  GEAR_SIZES,
  importCompose,
  isComposeText,
  parseDescriptor,
  type AppDescriptor,
} from '@gearshift/cartridges';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { CertificateAuthority } from '../common/certificates';
import { conflict, GearshiftError, invalid, ruleViolation } from '../common/errors';
import type { App } from '../apps/app.entity';
import { checkCartridgeSet, checkOptions, checkScale, checkSize } from '../apps/cartridge-rules';
import { generatedFor } from '../apps/generated-values';
import { conflictWarning, publishedConflicts } from '../apps/gear-specs';
import { shapeCartridges } from '../apps/gear-specs.service';
import { DeploymentsRepository } from '../apps/deployments.repository';
import { checkImageSource } from '../apps/release-images';
import { ChangeRunner } from '../changes/change-runner';
import { AppGears } from '../lifecycle/app-gears.service';
import { AliasesRepository } from '../routes/aliases.repository';
import { checkAliasHolder, checkAliasHost } from '../routes/aliases.service';
import { AppsRepository } from '../apps/apps.repository';
import { CatalogService } from '../cartridges/catalog.service';
import { DomainsService } from '../domains/domains.service';
import { NodesRepository } from '../fleet/nodes.repository';
import { AppsService } from '../lifecycle/apps.service';
import { AliasesService } from '../routes/aliases.service';
import { checkQuota } from '../teams/quota';
import type { User } from '../users/user.entity';
import { UpgradesService } from '../upgrades/upgrades.service';
import { planApply, type AppState, type PlanItem, type ServiceState } from './plan';

/** A file's name as `?file=` gives it (compose.yaml, docker-compose.yml): no folder, nothing that breaks a message. */
const FILE_NAME = /^[^/\\\x00-\x1f\x7f]{1,255}$/;

/** `POST /domains/:domain/apply`: a gearshift.yml becomes a plan, and with no dryRun, one operation. */
@Injectable()
export class ApplyService {
  constructor(
    private readonly appsRepository: AppsRepository,
    private readonly deploymentsRepository: DeploymentsRepository,
    private readonly catalog: CatalogService,
    private readonly domains: DomainsService,
    private readonly apps: AppsService,
    private readonly aliases: AliasesService,
    private readonly aliasesRepository: AliasesRepository,
    private readonly changes: ChangeRunner,
    private readonly appGears: AppGears,
    private readonly ca: CertificateAuthority,
    private readonly upgrades: UpgradesService,
    private readonly nodesRepository: NodesRepository,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

  async apply(user: User, domainName: string, text: string, opts: { dryRun: boolean; allowDataLoss: boolean; wait?: number; name?: string; file?: string }) {
    // The caller's right comes first, even for a dry run (the plan tells what the app holds): whoever may not apply to
    // the domain learns nothing from how the file is read.
    const domain = await this.domains.require(user, domainName, 'develop');
    if (opts.file !== undefined && (typeof opts.file !== 'string' || !FILE_NAME.test(opts.file)))
      throw invalid('/file', 'file-name', 'must be the name of the file applied: 1 to 255 characters, no / or control characters');
    const compose = isComposeText(text);
    // What is said about the document names the file it came from (compose.yaml, docker-compose.yml ...) when known.
    const file = appliedFileName(text, opts.file);
    const imported = compose ? this.fromCompose(text, file, opts.name) : null;
    const parsed: AppDescriptor = parseDescriptor(imported ? imported.text : text, file);
    // `name` names the app a compose file becomes; a gearshift.yml names its own, which must then be the same (a
    // push applies its repository's file for that repository's app, and makes nothing when the file names another).
    if (!compose && opts.name !== undefined && parsed.name !== opts.name)
      throw ruleViolation('/name', 'same-app', `the file describes app "${parsed.name}", but it is applied to "${opts.name}"`);
    // Named services are built from the repository's folders: they come with the next push of its code.
    // Cron entries run with the release whose gearshift.yml names them; a schedule cron cannot read, or a service the
    // file does not name, is refused here too.
    const schedules = cronViolations(parsed.cron, Object.keys(parsed.services ?? {}), this.config.cronMinIntervalS);
    if (schedules.length > 0) throw new GearshiftError('rule_violation', schedules.map((v) => `${v.pointer} ${v.message}`).join('; '), schedules);
    const app = await this.appsRepository.findByName(domain.id, parsed.name);
    // A bare family (`nodejs`) keeps the version the app has, and gives a new app the newest current one.
    const { entries, warnings } = this.catalog.resolveEntries(
      parsed.cartridges,
      (app?.cartridges ?? []).map((c) => c.cartridge),
    );
    // A compose file says nothing of an existing app's environment, aliases, health check or idle time: they stay.
    const kept = compose && app ? await this.composeKeeps(app) : {};
    const d: AppDescriptor = { ...parsed, ...kept, cartridges: entries };
    warnings.push(...this.publishedWarnings(app, d));
    // A compose file's settings that Gearshift ignores or changes are said in every answer, a dry run's too.
    const warned = { ...(warnings.length > 0 ? { warnings } : {}), ...(imported?.notes.length ? { notes: imported.notes } : {}) };
    await this.checkImages(d, app);
    const { items: planned, refusals } = planApply(app ? await this.stateOf(app) : null, d, this.catalog.cartridges);
    if (refusals.length > 0) {
      // A compose file's refusal names the field of that file that asked (its web service's deploy.replicas).
      if (imported) {
        const named = refusals.map((r) => ({ ...r, pointer: imported.pointers[r.pointer] ?? r.pointer }));
        throw new GearshiftError('rule_violation', `${file} does not run here: ${named.map((r) => `${r.pointer} ${r.message}`).join('; ')}`, named);
      }
      throw new GearshiftError('rule_violation', refusals.map((r) => r.message).join('; '), refusals);
    }
    const losses = planned.filter((i) => i.loses);
    if (opts.dryRun) {
      // The plan says when the nodes as they are cannot take what it would run, as the push or apply would be told.
      const shortfall = await this.roomShortfall(app, d);
      const said = shortfall ? { fits: false, warnings: [...(warned.warnings ?? []), `would not fit the nodes: ${shortfall}`] } : { fits: true };
      return { dryRun: true, app: d.name, plan: planned, losesData: losses.length > 0, ...warned, ...said };
    }
    if (planned.length === 0) return { app: d.name, plan: [], operation: null, unchanged: true, ...warned };
    // Named services change with the next push of the code they are built from, and cron entries with the release
    // whose file names them; apply converges the rest.
    const items = planned.filter((i) => !i.target.startsWith('service ') && !i.target.startsWith('cron '));
    if (app && items.length === 0) return { app: d.name, plan: planned, operation: null, ...warned };
    if (losses.length > 0 && !opts.allowDataLoss) {
      throw new GearshiftError(
        'rule_violation',
        `applying would lose ${losses.map((l) => l.loses).join(' and ')}; apply again with allowDataLoss=true to go ahead`,
        losses.map((l) => ({
          pointer: '/cartridges',
          rule: 'data-loss',
          message: `${l.action === 'abort' ? `aborting the ${l.target}` : `removing ${l.target.replace('cartridge ', '')}`} loses ${l.loses}`,
        })),
      );
    }
    if (!app) {
      const created = await this.apps.create(
        user,
        domainName,
        {
          name: d.name,
          cartridges: [...d.cartridges],
          ...(d.scale ? { scale: d.scale } : {}),
          ...(d.size ? { size: d.size } : {}),
          env: descriptorEnv(d),
        },
        opts.wait,
      );
      const fresh = (await this.appsRepository.findByName(domain.id, d.name))!;
      if (d.autoscale)
        await this.appsRepository.update(fresh.id, {
          autoscaleMin: d.autoscale.min,
          autoscaleMax: d.autoscale.max,
          autoscaleTarget: d.autoscale.targetConcurrency ?? 10,
        });
      if (d.idleAfterSeconds) await this.appsRepository.update(fresh.id, { idleAfterSeconds: d.idleAfterSeconds });
      if (d.health) await this.appsRepository.update(fresh.id, { health: d.health });
      for (const host of d.aliases ?? []) await this.aliases.add(user, domainName, d.name, { host });
      return { app: d.name, plan: planned, operation: 'operation' in created ? created.operation : null, ...warned };
    }
    const abort = items.find((i) => i.action === 'abort');
    if (abort) {
      // As `gearshift cartridge upgrade APP --abort`: an operation of its own, like the upgrade it ends.
      if (items.length > 1)
        throw ruleViolation(
          '/cartridges',
          'upgrade-alone',
          `aborting the ${abort.target} is an operation of its own: apply it alone first, then the other changes (${items
            .filter((i) => i !== abort)
            .map((i) => `${i.action} ${i.target}`)
            .join(', ')})`,
        );
      const settled = await this.upgrades.settle(user, domainName, d.name, String(abort.to), 'abort', opts.wait);
      return { app: d.name, plan: planned, operation: 'operation' in settled ? settled.operation : null, ...warned };
    }
    const upgrade = items.find((i) => i.action === 'upgrade');
    if (upgrade) {
      // A database upgrade is an operation of its own, with its own steps and its own end (confirm or abort).
      if (items.length > 1)
        throw ruleViolation(
          '/cartridges',
          'upgrade-alone',
          `upgrading ${String(upgrade.from)} to ${String(upgrade.to)} is an operation of its own: apply it alone first, then the other changes (${items
            .filter((i) => i !== upgrade)
            .map((i) => `${i.action} ${i.target}`)
            .join(', ')})`,
        );
      const started = await this.upgrades.start(user, domainName, d.name, String(upgrade.from), String(upgrade.to), opts.wait);
      return { app: d.name, plan: planned, operation: 'operation' in started ? started.operation : null, ...warned };
    }
    const result = await this.applyDescriptor(user, domainName, app, d, items, opts.wait);
    return { app: d.name, plan: planned, operation: 'operation' in result ? result.operation : null, ...warned };
  }

  /** Why the nodes could not take the gears the descriptor runs (its web gears and its services'), or null. */
  private roomShortfall(app: App | null, d: AppDescriptor): Promise<string | null> {
    const names = d.cartridges.map(entryName);
    const holder = app ?? { cartridges: [], gears: [], size: d.size ?? 'small', services: {}, desiredState: 'started' as const };
    // A service that autoscales starts at its least.
    const services = Object.fromEntries(Object.entries(d.services ?? {}).map(([name, s]) => [name, { size: s.size, scale: s.autoscale?.min ?? s.scale }]));
    return this.appGears.releaseShortfall({ nodes: this.nodesRepository }, holder, {
      web: this.catalog.webOf(names) ?? null,
      ...(d.scale !== undefined ? { webGears: d.scale } : {}),
      services,
    });
  }

  /**
   * A compose file as the gearshift.yml it imports to (JSON text), for the app `name` (else the file's own `name:`);
   * what stops it here is refused with the field of the compose file that says it, every one at once; with the notes
   * of what is ignored or changed, and the fields of the file that gearshift.yml fields came from.
   */
  private fromCompose(text: string, file: string, name?: string): { text: string; notes: string[]; pointers: Record<string, string> } {
    const app = name ?? composeProjectName(text);
    if (!app) throw invalid('/name', 'required', 'a compose file names no app: give its name (?name=APP, or name: in the file)');
    const r = importCompose(text);
    const d = composeDescriptor(app, r);
    if (!d) {
      const details = r.blockers.map((b) => ({ pointer: b.pointer, rule: b.rule ?? 'compose', message: b.reason }));
      throw new GearshiftError('rule_violation', `${file} does not run here: ${details.map((x) => `${x.pointer} ${x.message}`).join('; ')}`, details);
    }
    return { text: JSON.stringify(d), notes: composeNotes(r), pointers: r.scaleFrom ? { '/scale': r.scaleFrom } : {} };
  }

  /** Images a descriptor names for docker-image gears: public ones, or the app's own releases in the platform registry. */
  private async checkImages(d: AppDescriptor, app: App | null): Promise<void> {
    const releaseImages = app ? (await this.deploymentsRepository.forApp(app.id, 1000)).flatMap((x) => (x.image ? [x.image] : [])) : [];
    for (const [i, entry] of d.cartridges.entries()) {
      const c = this.catalog.cartridges.get(entryName(entry));
      if (!c?.manifest.image['from-app']) continue;
      await checkImageSource(
        entryOptions(entry).image,
        { registry: this.config.registry, instance: this.config.instance, appId: app?.id, releaseImages },
        `/cartridges/${i}/image`,
      );
    }
  }

  /**
   * What a compose file leaves of an existing app: the settings it has no words for, and, for an app of cartridges
   * that runs no named services, its services (a push of such an app ignores its compose file: what the file builds
   * from folders would never come).
   */
  private async composeKeeps(app: App): Promise<Partial<AppDescriptor>> {
    const aliases = (await this.aliasesRepository.forApp(app.id)).map((a) => a.host);
    const cartridgesOnly = (app.cartridges ?? []).length > 0 && !(app.gears ?? []).some((g) => g.service);
    return {
      ...(cartridgesOnly ? { services: undefined } : {}),
      env: app.env,
      ...(aliases.length > 0 ? { aliases } : {}),
      ...(app.health ? { health: app.health } : {}),
      ...(app.idleAfterSeconds ? { idleAfterSeconds: app.idleAfterSeconds } : {}),
    };
  }

  /** What an app is now, in the terms of a descriptor. */
  private async stateOf(app: App): Promise<AppState> {
    const web = this.catalog.webOf((app.cartridges ?? []).map((c) => c.cartridge));
    return {
      // A database an upgrade replaced waits for its confirmation; the file speaks of the one that serves.
      cartridges: (app.cartridges ?? []).filter((c) => !c.supersededBy).map((c) => c.cartridge),
      size: app.size,
      webScale: (app.gears ?? []).filter((g) => g.cartridge === web?.manifest.name && !g.process && !g.service).length,
      autoscale: app.autoscaleMax ? { min: app.autoscaleMin ?? 1, max: app.autoscaleMax, targetConcurrency: app.autoscaleTarget ?? 10 } : null,
      env: app.env,
      aliases: (await this.aliasesRepository.forApp(app.id)).map((a) => a.host),
      idleAfterSeconds: app.idleAfterSeconds,
      health: app.health,
      kept: (app.cartridges ?? []).flatMap((c) => (c.supersededBy ? [{ cartridge: c.cartridge, upgradedTo: c.supersededBy }] : [])),
      services: await this.servicesOf(app),
      cron: app.activeDeploymentId ? ((await this.deploymentsRepository.findById(app.activeDeploymentId))?.cron ?? []) : [],
    };
  }

  /**
   * The variables several of the file's cartridges would publish that its env does not choose (see
   * publishedConflicts): the app's cartridges keep the order they were added in, and the ones the file adds come
   * after them, in the order of their names (added together).
   */
  private publishedWarnings(app: App | null, d: AppDescriptor): string[] {
    const names = d.cartridges.map(entryName);
    const kept = app ? shapeCartridges(app).map((c) => c.name) : [];
    const order = [...kept.filter((n) => names.includes(n)), ...names.filter((n) => !kept.includes(n)).sort()];
    const published = order.flatMap((from) =>
      (this.catalog.find(from)?.manifest.publishes ?? []).map((p) => ({ name: p.name, value: '', secret: false, from })),
    );
    return publishedConflicts(published, Object.fromEntries(Object.entries(d.env ?? {}).map(([k, v]) => [k, String(v)])))
      .filter((c) => c.given !== null)
      .map(conflictWarning);
  }

  /** The named services of the release the app serves, as a descriptor would say them, with the scale each runs at. */
  private async servicesOf(app: App): Promise<Record<string, ServiceState>> {
    const release = app.activeDeploymentId ? await this.deploymentsRepository.findById(app.activeDeploymentId) : null;
    return Object.fromEntries(
      Object.entries(release?.services ?? {}).map(([name, s]) => [
        name,
        {
          kind: s.kind,
          ...(s.build ? { build: s.build } : { image: s.image }),
          ...(s.command !== undefined ? { command: s.command } : {}),
          ...(s.entrypoint !== undefined ? { entrypoint: s.entrypoint } : {}),
          ...(s.workingDir !== undefined ? { workingDir: s.workingDir } : {}),
          env: s.env ?? {},
          ...(s.port !== undefined ? { port: s.port } : {}),
          ...(s.hosts ? { hosts: s.hosts } : {}),
          scale: app.services?.[name]?.scale ?? s.scale ?? 1,
          scaled: Boolean(app.services?.[name]?.scaled),
          ...(s.autoscale ? { autoscale: { ...s.autoscale } } : {}),
        },
      ]),
    );
  }

  /** Converges an existing app to its descriptor in one operation. */
  private async applyDescriptor(user: User, domainName: string, app: App, d: AppDescriptor, items: PlanItem[], waitSeconds?: number) {
    const domain = await this.domains.require(user, domainName, 'develop');
    const summary = items.map((i) => `${i.action} ${i.target}`).join(', ');
    const op = await this.changes.changeApp(app, user, 'app.apply', `apply ${d.name}: ${summary}`, async (repos, a) => {
      const has = (target: string) => items.some((i) => i.target === target);
      const move = items.find((i) => i.target === 'web cartridge');
      const nodes: string[] = [];
      // Serving web gears move to the new runtime as any health-gated change does: new gears under its name start
      // beside the old ones, which keep serving until the new ones are healthy, and serve on if they never are.
      const movesServing = Boolean(move) && this.appGears.serving(a);
      if (move) {
        // The running release keeps serving, now under the new cartridge's name; the next deployment builds on the
        // new version, health-gated, and a failed one leaves the running release in place.
        const to = this.catalog.require(String(move.to));
        const had = (a.cartridges ?? []).find((c) => c.cartridge === move.from)?.generated ?? {};
        await repos.apps.replaceCartridge(a.id, String(move.from), { cartridge: to.manifest.name, generated: generatedFor(to, this.ca, had) });
        nodes.push(...(a.gears ?? []).filter((g) => g.cartridge === move.from).map((g) => g.nodeId));
      }
      const current = (a.cartridges ?? []).filter((c) => !c.supersededBy).map((c) => (move && c.cartridge === move.from ? String(move.to) : c.cartridge));
      const wanted = d.cartridges.map(entryName);
      const added = d.cartridges.filter((c) => !current.includes(entryName(c)));
      if (added.length > 0) {
        const chosen = checkCartridgeSet(wanted, this.catalog.cartridges);
        chosen.forEach((c, i) => checkOptions(c, entryOptions(d.cartridges[i]), `/cartridges/${i}`));
        for (const entry of added) {
          const name = entryName(entry);
          const options = entryOptions(entry);
          checkSize([this.catalog.require(name)], options.size ?? a.size, '/size');
          const memoryMb = GEAR_SIZES[options.size ?? a.size].memoryMb;
          await checkQuota(repos.teams, a.domainId, [memoryMb]);
          const nodeId = await this.appGears.place(repos, [memoryMb], a.gears?.[0]?.nodeId);
          await repos.apps.addCartridge(a.id, { cartridge: name, generated: generatedFor(this.catalog.require(name), this.ca), options }, [
            { cartridge: name, nodeId, memoryMb },
          ]);
          nodes.push(nodeId);
        }
      }
      for (const name of current.filter((c) => !wanted.includes(c))) await repos.apps.removeCartridge(a.id, name);
      if (items.some((i) => i.target.startsWith('env '))) {
        await this.appGears.setEnv(repos, a, descriptorEnv(d));
      }
      if (has('scale')) {
        checkScale(this.appGears.webOf(a), d.scale!, '/scale');
        await repos.apps.update(a.id, { autoscaleMin: null, autoscaleMax: null, autoscaleTarget: null });
        await this.appGears.setReplicas(repos, a, d.scale!);
      }
      if (has('autoscale')) {
        const web = this.appGears.webOf(a);
        checkScale(web, d.autoscale!.min, '/autoscale/min');
        checkScale(web, d.autoscale!.max, '/autoscale/max');
        if (d.autoscale!.min > d.autoscale!.max) throw ruleViolation('/autoscale/min', 'range', `must not exceed max (${d.autoscale!.max})`);
        await repos.apps.update(a.id, {
          autoscaleMin: d.autoscale!.min,
          autoscaleMax: d.autoscale!.max,
          autoscaleTarget: d.autoscale!.targetConcurrency ?? 10,
        });
        // As PUT .../scale does: the web gears come within the bounds now, so a minimum beyond the team's quota is
        // refused here, not retried by the autoscaler for ever.
        const current = (a.gears ?? []).filter((g) => g.cartridge === web.manifest.name && !g.process && !g.service).length;
        const within = Math.min(d.autoscale!.max, Math.max(d.autoscale!.min, current));
        if (within !== current) await this.appGears.setReplicas(repos, a, within);
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
          checkAliasHolder(host, await repos.aliases.holderOf(host), domain.teamId, '/aliases');
          if (!(await repos.aliases.create({ appId: a.id, host, certificate: null, privateKey: null })))
            throw conflict(`the host name ${host} is already an alias`);
        }
      }
      if (move && movesServing) {
        const surged = await this.appGears.surge(repos, a, { renamed: { from: String(move.from), to: String(move.to) } });
        if (surged && !Array.isArray(surged)) return { nodes: [...nodes, ...surged.nodes], context: surged.context };
      }
      return nodes;
    });
    return this.apps.respond(op, domain, waitSeconds);
  }
}
