import { Injectable, OnModuleInit } from '@nestjs/common';
import type { GearSpec } from '@gearshift/cartridges';
import { UnitOfWork, type Tx } from '../database/unit-of-work';
import { CHANGE_REPOS } from '../changes/change-runner';
import { OperationsService, type StageHandler, type StageOutcome } from '../operations/operations.service';
import type { Operation } from '../operations/operation.entity';
import { contextOf } from '../operations/contexts';
import { nextRolloutStage, rolloutOf, type RolloutStage } from '../operations/rollout';
import type { App } from '../apps/app.entity';
import { AppGears } from './app-gears.service';
import { GearSpecsService } from '../apps/gear-specs.service';

/** A stage writes what a change to an app writes (see ChangeRunner). */
const REPOS = CHANGE_REPOS;

/**
 * Changes whose new gears must pass their health checks (workers: keep running for the settle time) before the old ones
 * go, and what users call them.
 */
const GATED: Record<ConfigRolloutKind, string> = {
  'app.env': 'the environment change',
  'app.restart': 'the restart',
  'app.reload': 'the reload',
  'cartridge.add': 'adding the cartridge',
  'app.apply': 'applying the file',
  'app.move': 'the move off a draining node',
};

type ConfigRolloutKind = 'app.env' | 'app.restart' | 'app.reload' | 'cartridge.add' | 'app.apply' | 'app.move';
const GATED_KINDS = Object.keys(GATED) as ConfigRolloutKind[];

const isStage = (s: unknown): s is RolloutStage => s === 'surge' || s === 'retire' || s === 'rollback';

/**
 * Health-gated configuration changes: an environment change or a restart of a serving app rolls out like a
 * deployment (surge, then retire or rollback), so a change whose new gears never get healthy leaves the previous
 * gears serving and fails with the gear's reason and last log lines. The operation's context carries the rollout;
 * operations of these kinds without one (a stopped app's) simply converge.
 */
@Injectable()
export class ConfigRolloutService implements OnModuleInit, StageHandler {
  constructor(
    private readonly operations: OperationsService,
    private readonly apps: AppGears,
    private readonly gearSpecs: GearSpecsService,
    private readonly uow: UnitOfWork,
  ) {}

  onModuleInit(): void {
    for (const kind of GATED_KINDS) this.operations.registerStages(kind, this);
  }

  /**
   * While the new gears start, they carry the new environment and the old ones keep the app's; with a cartridge
   * added, the old ones run as they did without it (they never see its variables).
   */
  async convergeSpecs(op: Operation, app: App): Promise<GearSpec[]> {
    const context = contextOf(op, ...GATED_KINDS);
    const r = context.stage === 'surge' ? rolloutOf(context) : null;
    const specs = await this.gearSpecs.specs(app, r?.env ? new Map(r.fresh.map((id) => [id, r.env!])) : undefined);
    if (r?.renamed) {
      const before = new Map((await this.gearSpecs.specsBeforeMove(app, r.old, r.renamed.from, r.renamed.to)).map((s) => [s.gearId, s]));
      return specs.map((s) => before.get(s.gearId) ?? s);
    }
    if (!r?.added) return specs;
    const before = new Map((await this.gearSpecs.specsWithout(app, r.added)).map((s) => [s.gearId, s]));
    return specs.map((s) => (r.old.includes(s.gearId) ? (before.get(s.gearId) ?? s) : s));
  }

  async next(tx: Tx, op: Operation, outcome: StageOutcome) {
    const repos = tx.pick(REPOS);
    const context = contextOf(op, ...GATED_KINDS);
    const r = rolloutOf(context);
    const stage = context.stage;
    const app = op.appId ? await repos.apps.findById(op.appId) : null;
    if (!r || !isStage(stage) || !app) return null;
    const then = nextRolloutStage(stage, outcome.failed, r);
    if (then.stage === 'done') return stage === 'retire' && !outcome.failed ? { dispatch: [], step: `${r.old.length} old gear(s) retired` } : null;
    // Every node with a gear of the app before the removal converges: the removed gears' nodes stop them.
    const dispatch = [...new Set((app.gears ?? []).map((g) => g.nodeId))].map((nodeId) => ({ nodeId, job: 'app.converge' as const }));
    await repos.apps.removeGears(then.remove);
    op.context = { ...op.context, stage: then.stage };
    const what = r.added
      ? `adding ${r.added}`
      : r.renamed
        ? `moving the web gears from ${r.renamed.from} to ${r.renamed.to}`
        : (GATED[op.kind as ConfigRolloutKind] ?? 'the change');
    if (then.stage === 'rollback') {
      // A cartridge the change added goes with its gears; it never served anything.
      if (r.added) await repos.apps.removeCartridge(app.id, r.added);
      // The old gears, which never stopped, are the previous runtime's again.
      if (r.renamed) {
        const row = (app.cartridges ?? []).find((c) => c.cartridge === r.renamed!.to);
        await repos.apps.replaceCartridge(app.id, r.renamed.to, { cartridge: r.renamed.from, generated: row?.generated ?? {} });
      }
      return {
        dispatch,
        step: `rolling back ${what}: a new gear did not become healthy; the previous gears keep serving`,
        error: `${what} was rolled back: ${outcome.error}`,
      };
    }
    if (r.env) await this.apps.setEnv(repos, app, r.env);
    return { dispatch, step: `the new gears are healthy; retiring ${then.remove.length} old gear(s)` };
  }

  /**
   * A change cancelled (or timed out) while its fresh gears were starting leaves the app as it was before it: the
   * fresh gears go, with a cartridge the change added, and the old gears, which never stopped, keep serving at the
   * app's scale. Their containers leave their nodes at the next heartbeat, as any container of a gear that no longer
   * exists, including those a node was still creating for the ended operation.
   */
  async ended(op: Operation): Promise<void> {
    if (op.state !== 'failed' || !op.appId) return;
    const context = contextOf(op, ...GATED_KINDS);
    const r = rolloutOf(context);
    if (!r || context.stage !== 'surge') return;
    await this.uow.run(REPOS, async (repos) => {
      const app = await repos.apps.findById(op.appId!);
      if (!app) return;
      const fresh = (app.gears ?? []).filter((g) => r.fresh.includes(g.id)).map((g) => g.id);
      if (fresh.length > 0) await repos.apps.removeGears(fresh);
      if (r.added) await repos.apps.removeCartridge(app.id, r.added);
      if (r.renamed) {
        const row = (app.cartridges ?? []).find((c) => c.cartridge === r.renamed!.to);
        await repos.apps.replaceCartridge(app.id, r.renamed.to, { cartridge: r.renamed.from, generated: row?.generated ?? {} });
      }
    });
  }
}
