import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import type { GearSpec, NodeJob } from '@gearshift/cartridges';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { conflict } from '../common/errors';
import type { Tx } from '../database/unit-of-work';
import type { App } from '../apps/app.entity';
import { buildGearSpecs } from '../apps/gear-specs';
import { GearSpecsService } from '../apps/gear-specs.service';
import { CatalogService } from '../cartridges/catalog.service';
import { CHANGE_REPOS, ChangeRunner, type ChangeRepos } from '../changes/change-runner';
import { AppGears } from '../lifecycle/app-gears.service';
import { contextOf, newContext, type UpgradeAbortContext } from '../operations/contexts';
import type { Operation } from '../operations/operation.entity';
import { OperationsService, type StageHandler, type StageOutcome } from '../operations/operations.service';
import type { User } from '../users/user.entity';

type Next = Awaited<ReturnType<StageHandler['next']>>;
type Move = (stage: UpgradeAbortContext['stage'], extra?: Partial<UpgradeAbortContext>) => void;

/**
 * The abort of an upgrade that waits for its confirmation, in the order that keeps the app served: the kept database
 * starts and is healthy first, takes writes again, then the subscribers move back to it with the health gate of any
 * configuration change (new web gears beside the old, which keep serving from the new database until then), and only
 * then does the new database go. A step that fails stops the kept database again: the upgrade still waits.
 */
@Injectable()
export class UpgradeAbortService implements OnModuleInit, StageHandler {
  constructor(
    private readonly changes: ChangeRunner,
    private readonly operations: OperationsService,
    private readonly catalog: CatalogService,
    private readonly specs: GearSpecsService,
    private readonly appGears: AppGears,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

  onModuleInit(): void {
    this.operations.registerStages('cartridge.upgrade.abort', this);
  }

  /** Starts the abort of the upgrade of `from` (kept) to `to` (serving) of a started app. */
  begin(app: App, user: User, from: string, to: string): Promise<Operation> {
    const gear = (app.gears ?? []).find((g) => g.cartridge === from);
    if (!gear) throw conflict(`app "${app.name}" has no gear of ${from} to bring back`);
    const context: UpgradeAbortContext = { stage: 'revive', from, to, nodeId: gear.nodeId };
    return this.changes.begin(app, (repos) =>
      this.operations.create(
        repos,
        'cartridge.upgrade.abort',
        app.id,
        user,
        [{ nodeId: gear.nodeId, job: 'app.converge' }],
        `abort the upgrade to ${to}: ${from} starts and, once healthy, takes writes again; the subscribers move back to it, then ${to} and its volume go`,
        newContext('cartridge.upgrade.abort', context),
      ),
    );
  }

  private resumeOf(cartridge: string): string[] | undefined {
    return this.catalog.find(cartridge)?.manifest.snapshot?.resume;
  }

  async job(op: Operation, app: App, _nodeId: string, name: Operation['dispatch'][number]['job']): Promise<NodeJob> {
    const ctx = contextOf(op, 'cartridge.upgrade.abort');
    const gear = (app.gears ?? []).find((g) => g.cartridge === ctx.from);
    const command = this.resumeOf(ctx.from);
    if (name !== 'app.writes' || !gear || !command) throw new Error(`the abort of the upgrade to ${ctx.to} has no ${name} job`);
    return { name, data: { operationId: op.id, appId: app.id, gearId: gear.id, cartridge: ctx.from, allow: true, command: [...command] } };
  }

  /** The specs of the app's gears once the abort is done: `from` serves and publishes again, `to` is gone. */
  private async afterAbort(app: App, ctx: UpgradeAbortContext): Promise<GearSpec[]> {
    const shape = await this.specs.shapeOf(app);
    const after = {
      ...shape,
      cartridges: shape.cartridges
        .filter((c) => c.name !== ctx.to)
        .map((c) => {
          if (c.name !== ctx.from) return c;
          const { supersededBy: _gone, ...rest } = c;
          return rest;
        }),
      gears: shape.gears.filter((g) => g.cartridge !== ctx.to),
    };
    return buildGearSpecs(after, this.catalog.cartridges, this.config.instance);
  }

  /**
   * While `from` starts and the subscribers move back, `from`'s gear and the fresh web gears run as they will after
   * the abort; every other gear (the old web gears, `to`) runs as it does now.
   */
  async convergeSpecs(op: Operation, app: App): Promise<GearSpec[]> {
    const ctx = contextOf(op, 'cartridge.upgrade.abort');
    const specs = await this.specs.specs(app);
    if (ctx.stage !== 'revive' && ctx.stage !== 'surge') return specs;
    const after = new Map((await this.afterAbort(app, ctx)).map((s) => [s.gearId, s]));
    const fresh = new Set(ctx.stage === 'surge' ? (ctx.rollout?.fresh ?? []) : []);
    return specs.map((s) => (s.cartridge === ctx.from || fresh.has(s.gearId) ? (after.get(s.gearId) ?? s) : s));
  }

  async next(tx: Tx, op: Operation, outcome: StageOutcome): Promise<Next> {
    const repos = tx.pick(CHANGE_REPOS);
    const ctx = contextOf(op, 'cartridge.upgrade.abort');
    const app = op.appId ? await repos.apps.findById(op.appId) : null;
    if (!app) return null;
    const allNodes = () => [...new Set([ctx.nodeId, ...(app.gears ?? []).map((g) => g.nodeId)])].map((nodeId) => ({ nodeId, job: 'app.converge' as const }));
    const move: Move = (stage, extra = {}) => {
      op.context = { ...op.context, ...extra, stage } as Operation['context'];
    };
    /** The kept database stops again and the fresh web gears go: the app is as before the abort. */
    const back = async (what: string, reason: string): Promise<Next> => {
      const nodes = allNodes();
      if (ctx.rollout) await repos.apps.removeGears(ctx.rollout.fresh);
      move('undo');
      return {
        dispatch: nodes,
        step: `${what} failed; ${ctx.from} stops again and ${ctx.to} keeps serving: the upgrade still waits to be confirmed or aborted`,
        error: `the abort of the upgrade of ${ctx.from} to ${ctx.to} failed at ${what}: ${reason}`,
      };
    };
    try {
      switch (ctx.stage) {
        case 'revive':
          if (outcome.failed) return await back(`starting ${ctx.from}`, outcome.error ?? 'its gear did not become healthy');
          if (this.resumeOf(ctx.from)) {
            move('resume');
            return { dispatch: [{ nodeId: ctx.nodeId, job: 'app.writes' }], step: `${ctx.from} is healthy; letting it take writes again` };
          }
          return await this.switchBack(repos, app, ctx, move, `${ctx.from} is healthy`);
        case 'resume':
          if (outcome.failed) return await back(`letting ${ctx.from} take writes again`, outcome.error ?? 'its resume command failed');
          return await this.switchBack(repos, app, ctx, move, `${ctx.from} takes writes again`);
        case 'surge': {
          if (outcome.failed) return await back(`switching the subscribers back to ${ctx.from}`, outcome.error ?? 'a web gear did not become healthy');
          const nodes = allNodes();
          await repos.apps.removeGears(ctx.rollout!.old);
          await this.settle(repos, app, ctx);
          move('retire');
          return {
            dispatch: nodes,
            step: `the subscribers serve from ${ctx.from} again (${ctx.rollout!.old.length} web gear(s) retired); ${ctx.to} and its volume go`,
          };
        }
        default:
          return null;
      }
    } catch (err) {
      if (ctx.stage === 'revive' || ctx.stage === 'resume' || ctx.stage === 'surge') return back(`stage ${ctx.stage}`, (err as Error).message);
      return {
        dispatch: [],
        step: `the abort stopped: ${(err as Error).message}`,
        error: `the abort of the upgrade to ${ctx.to} failed: ${(err as Error).message}`,
      };
    }
  }

  /** The app's rows as after the abort: `to` goes with its gear (and volume, at the converge), `from` serves. */
  private async settle(repos: ChangeRepos, app: App, ctx: UpgradeAbortContext): Promise<void> {
    await repos.apps.removeCartridge(app.id, ctx.to);
    await repos.apps.supersede(app.id, ctx.from, null);
  }

  /** The subscribers move back with the health gate of a configuration change; an app with none switches at once. */
  private async switchBack(repos: ChangeRepos, app: App, ctx: UpgradeAbortContext, move: Move, said: string): Promise<Next> {
    const web = this.catalog.webOf((app.cartridges ?? []).map((c) => c.cartridge));
    const serving = web && app.desiredState === 'started' && (app.gears ?? []).some((g) => g.cartridge === web.manifest.name && !g.process);
    if (!serving) {
      const nodes = [...new Set([ctx.nodeId, ...(app.gears ?? []).map((g) => g.nodeId)])].map((nodeId) => ({ nodeId, job: 'app.converge' as const }));
      await this.settle(repos, app, ctx);
      move('retire');
      return { dispatch: nodes, step: `${said}; ${ctx.from} serves again, ${ctx.to} and its volume go` };
    }
    const surged = await this.appGears.surge(repos, app);
    if (!surged || Array.isArray(surged)) throw new Error('the subscribers could not be switched back');
    const rollout = (surged.context as { rollout: NonNullable<UpgradeAbortContext['rollout']> }).rollout;
    move('surge', { rollout });
    const nodes = [...new Set([ctx.nodeId, ...surged.nodes])].map((nodeId) => ({ nodeId, job: 'app.converge' as const }));
    return {
      dispatch: nodes,
      step: `${said}; switching the subscribers back: ${rollout.fresh.length} new web gear(s) start with ${ctx.from}'s variables`,
    };
  }
}
