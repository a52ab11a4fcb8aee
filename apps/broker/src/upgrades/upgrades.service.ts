import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { upgradeProblem, type Cartridge, type GearSpec, type NodeJob, type SnapshotItem } from '@gearshift/cartridges';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { CertificateAuthority } from '../common/certificates';
import { conflict, GearshiftError, invalid, notFound, ruleViolation } from '../common/errors';
import type { Tx } from '../database/unit-of-work';
import { AppAccess } from '../apps/app-access.service';
import { AppsRepository } from '../apps/apps.repository';
import type { App } from '../apps/app.entity';
import { buildGearSpecs } from '../apps/gear-specs';
import { GearSpecsService } from '../apps/gear-specs.service';
import { generatedFor } from '../apps/generated-values';
import { CatalogService } from '../cartridges/catalog.service';
import { CHANGE_REPOS, ChangeRunner, type ChangeRepos } from '../changes/change-runner';
import { AppGears } from '../lifecycle/app-gears.service';
import { AppsService } from '../lifecycle/apps.service';
import { contextOf, newContext, type UpgradeContext } from '../operations/contexts';
import type { Operation } from '../operations/operation.entity';
import { OperationsService, type StageHandler, type StageOutcome } from '../operations/operations.service';
import { QueueService } from '../queue/queue.service';
import { compareCounts, describeCounts, explainDifferences } from './counts';
import { UpgradeAbortService } from './upgrade-abort.service';
import type { User } from '../users/user.entity';

const run = promisify(execFile);
type Next = Awaited<ReturnType<StageHandler['next']>>;

/**
 * A database moves to a new major version (or to a drop-in such as Valkey) in one operation that keeps every row:
 * count and dump the old gear, start a gear of the new cartridge on a new volume, restore the dump into it, count
 * again (a difference fails), then switch the subscribers with the health gate of any configuration change. The old
 * gear then stops but keeps its volume until the user confirms (it goes) or aborts (it serves again). Until the
 * switch, the old database serves throughout: a failure takes away what the upgrade added and says where it stopped.
 */
@Injectable()
export class UpgradesService implements OnModuleInit, StageHandler {
  constructor(
    private readonly access: AppAccess,
    private readonly changes: ChangeRunner,
    private readonly operations: OperationsService,
    private readonly catalog: CatalogService,
    private readonly specs: GearSpecsService,
    private readonly appGears: AppGears,
    private readonly apps: AppsService,
    private readonly ca: CertificateAuthority,
    private readonly aborts: UpgradeAbortService,
    private readonly appsRepository: AppsRepository,
    private readonly queue: QueueService,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

  onModuleInit(): void {
    this.operations.registerStages('cartridge.upgrade', this);
  }

  private file(name: string): string {
    return join(this.config.dataDir, 'snapshots', `${name}.tar.gz`);
  }

  /** Starts the upgrade of the app's `from` to `to`. */
  async start(user: User, domainName: string, appName: string, from: string, to: string, waitSeconds?: number) {
    const { domain, app } = await this.access.requireApp(user, domainName, appName, 'develop');
    const rows = app.cartridges ?? [];
    const kept = rows.find((c) => c.supersededBy);
    if (kept) throw conflict(`app "${appName}" keeps ${kept.cartridge} from an upgrade to ${kept.supersededBy}; confirm or abort that upgrade first`);
    if (!rows.some((c) => c.cartridge === from)) throw notFound(`cartridge ${from} in app "${appName}"`);
    const problem = upgradeProblem(from, to, this.catalog.cartridges);
    if (problem) throw ruleViolation('/to', 'upgrade', problem);
    if (rows.some((c) => c.cartridge === to)) throw ruleViolation('/to', 'upgrade', `app "${appName}" already has ${to}`);
    if (app.desiredState !== 'started') throw conflict(`app "${appName}" is ${app.desiredState}; start it to upgrade ${from}`);
    const gear = (app.gears ?? []).find((g) => g.cartridge === from);
    if (!gear) throw conflict(`app "${appName}" has no gear of ${from} to upgrade`);
    mkdirSync(join(this.config.dataDir, 'snapshots'), { recursive: true });
    const token = randomBytes(24).toString('base64url');
    // A database that can refuse writes does so from before its dump until the switch: a write it acknowledged
    // after the dump would not be in the new one. The app sees its writes fail (or, for Redis, wait) meanwhile.
    const quiesced = Boolean(this.manifestOf(from).manifest.snapshot?.quiesce);
    const context: UpgradeContext = {
      stage: quiesced ? 'quiesce' : 'dump',
      token,
      domain: domainName,
      from,
      to,
      nodeId: gear.nodeId,
      upload: `restore-${token}`,
      ...(quiesced ? { quiesced } : {}),
    };
    const op = await this.changes.begin(app, (repos) =>
      this.operations.create(
        repos,
        'cartridge.upgrade',
        app.id,
        user,
        [{ nodeId: gear.nodeId, job: quiesced ? 'app.writes' : 'app.snapshot' }],
        quiesced
          ? `upgrade ${from} to ${to}: ${from} takes no writes from now until the switch (reads go on), then is counted and dumped`
          : `upgrade ${from} to ${to}: counting and dumping ${from}`,
        newContext('cartridge.upgrade', context),
      ),
    );
    return this.apps.respond(op, domain, waitSeconds);
  }

  /** Ends a finished upgrade: `confirm` removes the old database and its volume; `abort` brings it back. */
  async settle(user: User, domainName: string, appName: string, named: string | undefined, how: 'confirm' | 'abort', waitSeconds?: number) {
    const { domain, app } = await this.access.requireApp(user, domainName, appName, 'develop');
    const kept = (app.cartridges ?? []).find((c) => c.supersededBy && (!named || named === c.cartridge || named === c.supersededBy));
    if (!kept?.supersededBy) throw conflict(`app "${appName}" has no upgrade waiting to be confirmed or aborted${named ? ` for ${named}` : ''}`);
    const from = kept.cartridge;
    const to = kept.supersededBy;
    if (how === 'abort' && app.desiredState === 'started' && (app.gears ?? []).some((g) => g.cartridge === from)) {
      // A serving app moves back health-gated: the old database is up and takes writes before anyone uses it.
      return this.apps.respond(await this.aborts.begin(app, user, from, to), domain, waitSeconds);
    }
    const step = how === 'confirm' ? `confirm the upgrade to ${to}: ${from} and its volume go` : `abort the upgrade to ${to}: ${from} serves again, ${to} goes`;
    const op = await this.changes.changeApp(app, user, `cartridge.upgrade.${how}`, step, async (repos) => {
      if (how === 'confirm') {
        // The names the app reaches its database by (a compose file's `postgres`) stay with the one that serves.
        const aliases = kept.options?.aliases ?? [];
        if (aliases.length) {
          const options = (app.cartridges ?? []).find((c) => c.cartridge === to)?.options ?? {};
          await repos.apps.setCartridgeOptions(app.id, to, { ...options, aliases: [...new Set([...(options.aliases ?? []), ...aliases])] });
        }
        await repos.apps.removeCartridge(app.id, from);
      } else {
        await repos.apps.removeCartridge(app.id, to);
        await repos.apps.supersede(app.id, from, null);
      }
    });
    return this.apps.respond(op, domain, waitSeconds);
  }

  // ---- StageHandler --------------------------------------------------------------------------------------------

  private manifestOf(name: string): Cartridge {
    const c = this.catalog.find(name);
    if (!c) throw new Error(`cartridge ${name} is not in the catalogue`);
    return c;
  }

  /** How a snapshot takes `cartridge`'s data out of `gearId` and puts it back; `file` is its place in the archive. */
  private item(cartridge: string, gearId: string, file: string): SnapshotItem {
    const c = this.manifestOf(cartridge);
    const snap = c.manifest.snapshot!;
    if (snap.protocol === 'redis')
      return { gearId, cartridge, file, method: { kind: 'redis', port: c.manifest.endpoints[0].port, passwordEnv: snap['password-env'] } };
    return {
      gearId,
      cartridge,
      file,
      method: { kind: 'exec', dump: [...snap.dump!], restore: [...snap.restore!], ...(snap.count ? { count: [...snap.count] } : {}) },
    };
  }

  private fileIn(cartridge: string): string {
    return `${cartridge}/${this.manifestOf(cartridge).manifest.snapshot!.file}`;
  }

  async job(op: Operation, app: App, _nodeId: string, name: Operation['dispatch'][number]['job']): Promise<NodeJob> {
    const ctx = contextOf(op, 'cartridge.upgrade');
    const gearOf = (cartridge: string) => {
      const g = (app.gears ?? []).find((x) => x.cartridge === cartridge);
      if (!g) throw new Error(`app ${app.name} has no gear of ${cartridge}`);
      return g.id;
    };
    const uploadUrl = `/api/v1/snapshots/${op.id}?token=${ctx.token}`;
    if (name === 'app.writes') {
      // Stopped at the start of the copy; let again when the upgrade fails before its switch.
      const snap = this.manifestOf(ctx.from).manifest.snapshot!;
      const allow = ctx.stage !== 'quiesce';
      const command = allow ? snap.resume : snap.quiesce;
      if (!command) throw new Error(`cartridge ${ctx.from} has no ${allow ? 'resume' : 'quiesce'} command`);
      return { name, data: { operationId: op.id, appId: app.id, gearId: gearOf(ctx.from), cartridge: ctx.from, allow, command: [...command] } };
    }
    if (name === 'app.restore') {
      // The old database's dump, into the new one (the archive names it by the old cartridge).
      const item = { ...this.item(ctx.to, gearOf(ctx.to), this.fileIn(ctx.from)) };
      return { name, data: { operationId: op.id, appId: app.id, sourceUrl: `/api/v1/snapshots/restore/${ctx.token}`, items: [item] } };
    }
    const cartridge = ctx.stage === 'verify' ? ctx.to : ctx.from;
    const meta = { app: app.name, domain: ctx.domain, takenAt: new Date().toISOString(), upgrade: { from: ctx.from, to: ctx.to }, cartridges: [cartridge] };
    return {
      name: 'app.snapshot',
      data: { operationId: op.id, appId: app.id, uploadUrl, items: [this.item(cartridge, gearOf(cartridge), this.fileIn(cartridge))], meta },
    };
  }

  /**
   * Until the switch, every gear but the new database's runs as if the app had no `to` (its subscribers keep the
   * old one's variables); while the subscribers switch, the fresh web gears start as if `from` were gone.
   */
  async convergeSpecs(op: Operation, app: App): Promise<GearSpec[]> {
    const ctx = contextOf(op, 'cartridge.upgrade');
    const specs = await this.specs.specs(app);
    if (ctx.stage === 'start' || ctx.stage === 'restore' || ctx.stage === 'verify' || ctx.stage === 'surge') {
      const without = new Map((await this.specs.specsWithout(app, ctx.to)).map((s) => [s.gearId, s]));
      const fresh = new Set(ctx.stage === 'surge' ? (ctx.rollout?.fresh ?? []) : []);
      const shape = await this.specs.shapeOf(app);
      const switched = fresh.size
        ? new Map(
            buildGearSpecs(
              { ...shape, cartridges: shape.cartridges.map((c) => (c.name === ctx.from ? { ...c, supersededBy: ctx.to } : c)) },
              this.catalog.cartridges,
              this.config.instance,
            ).map((s) => [s.gearId, s]),
          )
        : new Map<string, GearSpec>();
      return specs.map((s) => (fresh.has(s.gearId) ? (switched.get(s.gearId) ?? s) : s.cartridge === ctx.to ? s : (without.get(s.gearId) ?? s)));
    }
    return specs;
  }

  /** The counts a snapshot of this upgrade holds (its gearshift-snapshot.json), or null when it has none. */
  private async countsIn(file: string): Promise<Record<string, number> | null> {
    if (!existsSync(file)) return null;
    const { stdout } = await run('tar', ['-xzOf', file, './gearshift-snapshot.json'], { maxBuffer: 16 * 1024 * 1024 });
    const meta = JSON.parse(stdout) as { items?: { counts?: Record<string, number> }[] };
    return meta.items?.[0]?.counts ?? null;
  }

  async next(tx: Tx, op: Operation, outcome: StageOutcome): Promise<Next> {
    const repos = tx.pick(CHANGE_REPOS);
    const ctx = contextOf(op, 'cartridge.upgrade');
    const app = op.appId ? await repos.apps.findById(op.appId) : null;
    if (!app) return null;
    const allNodes = () => [...new Set([ctx.nodeId, ...(app.gears ?? []).map((g) => g.nodeId)])].map((nodeId) => ({ nodeId, job: 'app.converge' as const }));
    const move = (stage: UpgradeContext['stage'], extra: Partial<UpgradeContext> = {}) => {
      op.context = { ...op.context, ...extra, stage } as Operation['context'];
    };
    /** Takes away what the upgrade added (on every node it may be on); the old database never stopped serving. */
    const takeAway = async (): Promise<Operation['dispatch']> => {
      const nodes = allNodes();
      if (ctx.rollout) await repos.apps.removeGears(ctx.rollout.fresh);
      await repos.apps.removeCartridge(app.id, ctx.to);
      move('undo');
      return nodes;
    };
    /** A failure before the switch: the old database takes writes again (if it had stopped), then the new one goes. */
    const undo = async (what: string, reason: string, error = `the upgrade of ${ctx.from} to ${ctx.to} failed at ${what}: ${reason}`): Promise<Next> => {
      if (ctx.quiesced) {
        move('resume');
        return { dispatch: [{ nodeId: ctx.nodeId, job: 'app.writes' }], step: `${what} failed; ${ctx.from} takes writes again`, error };
      }
      return { dispatch: await takeAway(), step: `${what} failed; ${ctx.to} is taken away and ${ctx.from} keeps serving`, error };
    };
    /** The upgrade ends before it added anything; an old database that stopped taking writes takes them again. */
    const stop = async (step: string, error: string): Promise<Next> => {
      if (!ctx.quiesced) return { dispatch: [], step, error };
      move('resume');
      return { dispatch: [{ nodeId: ctx.nodeId, job: 'app.writes' }], step: `${step}; ${ctx.from} takes writes again`, error };
    };
    try {
      switch (ctx.stage) {
        case 'quiesce':
          if (outcome.failed) return await undo(`stopping the writes to ${ctx.from}`, outcome.error ?? 'its quiesce command failed');
          move('dump');
          return {
            dispatch: [{ nodeId: ctx.nodeId, job: 'app.snapshot' }],
            step: `${ctx.from} takes no writes (the app's writes fail until the switch); counting and dumping it`,
          };
        case 'dump': {
          if (outcome.failed)
            return await stop(`the dump of ${ctx.from} failed`, `the upgrade of ${ctx.from} to ${ctx.to} failed at the dump of ${ctx.from}: ${outcome.error}`);
          const counts = await this.countsIn(this.file(`restore-${ctx.token}`));
          if (!counts)
            return await stop(
              `the dump of ${ctx.from} holds no counts`,
              `the upgrade of ${ctx.from} to ${ctx.to} failed: the dump of ${ctx.from} holds no row counts`,
            );
          return await this.startNew(repos, app, ctx, counts, move, stop);
        }
        case 'start':
          if (outcome.failed) return await undo(`starting ${ctx.to}`, outcome.error ?? 'its gear did not start');
          move('restore');
          return { dispatch: [{ nodeId: ctx.nodeId, job: 'app.restore' }], step: `${ctx.to} is healthy; restoring the dump of ${ctx.from} into it` };
        case 'restore':
          if (outcome.failed) return await undo(`the restore into ${ctx.to}`, outcome.error ?? 'the restore failed');
          move('verify', { upload: `${op.id}-verify` });
          return { dispatch: [{ nodeId: ctx.nodeId, job: 'app.snapshot' }], step: `restored; counting the rows of ${ctx.to}` };
        case 'verify': {
          if (outcome.failed) return await undo(`counting the rows of ${ctx.to}`, outcome.error ?? 'the count failed');
          const after = await this.countsIn(this.file(`${op.id}-verify`));
          const differences = compareCounts(ctx.counts ?? {}, after ?? {});
          if (!after || differences.length > 0)
            return await undo(`comparing the row counts`, differences.length ? explainDifferences(differences, ctx) : `${ctx.to} gave no counts`);
          return await this.switchSubscribers(repos, app, ctx, after, move);
        }
        case 'surge': {
          const r = ctx.rollout!;
          if (outcome.failed) return await undo(`switching the subscribers to ${ctx.to}`, outcome.error ?? 'a web gear did not become healthy');
          const nodes = allNodes();
          await repos.apps.supersede(app.id, ctx.from, ctx.to);
          await repos.apps.removeGears(r.old);
          move('retire');
          return { dispatch: nodes, step: this.switchedStep(ctx, r.old.length) };
        }
        case 'resume': {
          const dispatch = await takeAway();
          if (!outcome.failed) return { dispatch, step: `${ctx.from} takes writes again and keeps serving; ${ctx.to} is taken away` };
          return {
            dispatch,
            step: `${ctx.from} could not take writes again: ${outcome.error}; ${ctx.to} is taken away`,
            error: `${op.error ?? `the upgrade of ${ctx.from} to ${ctx.to} failed`}; and ${ctx.from} could not take writes again: ${outcome.error}`,
          };
        }
        default:
          return null;
      }
    } catch (err) {
      if ((ctx.stage === 'dump' && !ctx.quiesced) || ctx.stage === 'undo' || ctx.stage === 'retire' || ctx.stage === 'resume') {
        return {
          dispatch: [],
          step: `the upgrade stopped: ${(err as Error).message}`,
          error: `the upgrade of ${ctx.from} to ${ctx.to} failed: ${(err as Error).message}`,
        };
      }
      return undo(`stage ${ctx.stage}`, (err as Error).message);
    }
  }

  private switchedStep(ctx: UpgradeContext, retired: number): string {
    return (
      `the subscribers serve from ${ctx.to}${retired ? ` (${retired} old web gear(s) retired)` : ''}; ${ctx.from} stops, its volume kept ` +
      `until the upgrade is confirmed (gearshift cartridge upgrade APP --confirm) or aborted (--abort)`
    );
  }

  /** A gear of `to` on a new volume, beside the old one on its node (the app's network is per node). */
  private async startNew(
    repos: ChangeRepos,
    app: App,
    ctx: UpgradeContext,
    counts: Record<string, number>,
    move: (s: UpgradeContext['stage'], e?: Partial<UpgradeContext>) => void,
    stop: (step: string, error: string) => Promise<Next>,
  ): Promise<Next> {
    const c = this.manifestOf(ctx.to);
    const old = (app.gears ?? []).find((g) => g.cartridge === ctx.from);
    const memoryMb = old?.memoryMb ?? 256;
    const counted = `${ctx.from}: ${describeCounts(counts)}`;
    let nodeId: string;
    try {
      nodeId = await this.appGears.place(repos, [memoryMb], ctx.nodeId);
    } catch (err) {
      if (!(err instanceof GearshiftError)) throw err;
      return stop(counted, `the upgrade of ${ctx.from} to ${ctx.to} failed at starting ${ctx.to}: ${err.message}; ${ctx.from} keeps serving, nothing changed`);
    }
    await repos.apps.addCartridge(app.id, { cartridge: ctx.to, generated: generatedFor(c, this.ca) }, [{ cartridge: ctx.to, nodeId, memoryMb }]);
    move('start', { counts });
    return { dispatch: [{ nodeId, job: 'app.converge' }], step: `${counted}; starting ${ctx.to} on a new volume` };
  }

  /** The subscribers move with the health gate of a configuration change; an app with none switches at once. */
  private async switchSubscribers(
    repos: ChangeRepos,
    app: App,
    ctx: UpgradeContext,
    counts: Record<string, number>,
    move: (s: UpgradeContext['stage'], e?: Partial<UpgradeContext>) => void,
  ): Promise<Next> {
    const matched = `${ctx.to}: ${describeCounts(counts)}, as in ${ctx.from}`;
    const web = this.catalog.webOf((app.cartridges ?? []).map((c) => c.cartridge));
    const serving = web && app.desiredState === 'started' && (app.gears ?? []).some((g) => g.cartridge === web.manifest.name && !g.process && !g.service);
    if (!serving) {
      const nodes = [...new Set((app.gears ?? []).map((g) => g.nodeId))].map((nodeId) => ({ nodeId, job: 'app.converge' as const }));
      await repos.apps.supersede(app.id, ctx.from, ctx.to);
      move('retire');
      return { dispatch: nodes, step: `${matched}; ${this.switchedStep(ctx, 0)}` };
    }
    const surged = await this.appGears.surge(repos, app);
    if (!surged || Array.isArray(surged)) throw new Error('the subscribers could not be switched');
    const rollout = (surged.context as { rollout: NonNullable<UpgradeContext['rollout']> }).rollout;
    move('surge', { rollout });
    const nodes = [...new Set([ctx.nodeId, ...surged.nodes])].map((nodeId) => ({ nodeId, job: 'app.converge' as const }));
    return { dispatch: nodes, step: `${matched}; switching the subscribers: ${rollout.fresh.length} new web gear(s) start with ${ctx.to}'s variables` };
  }

  async ended(op: Operation): Promise<void> {
    const ctx = contextOf(op, 'cartridge.upgrade');
    rmSync(this.file(`restore-${ctx.token}`), { force: true });
    rmSync(this.file(`${op.id}-verify`), { force: true });
    // A failure ends through `resume`; an upgrade cancelled (or timed out) while the old database took no writes ends
    // where it was, and the old database, which still serves, takes writes again.
    const copying: UpgradeContext['stage'][] = ['quiesce', 'dump', 'start', 'restore', 'verify', 'surge'];
    if (op.state !== 'failed' || !ctx.quiesced || !copying.includes(ctx.stage) || !op.appId) return;
    const app = await this.appsRepository.findById(op.appId);
    if (!app || !(app.gears ?? []).some((g) => g.cartridge === ctx.from)) return;
    const resume = { ...op, context: { ...op.context, stage: 'resume' } } as Operation;
    const job = await this.job(resume, app, ctx.nodeId, 'app.writes');
    if (job.name === 'app.writes') await this.queue.send(ctx.nodeId, 'app.writes', job.data, `${op.id}.resume.${ctx.nodeId}`);
  }
}

/** The request's `to`, checked: a cartridge name. */
export function upgradeTarget(body: { to?: unknown }): string {
  if (typeof body.to !== 'string' || !/^[a-z][a-z0-9.-]{0,63}$/.test(body.to)) throw invalid('/to', 'cartridge', 'must name the cartridge to upgrade to');
  return body.to;
}
