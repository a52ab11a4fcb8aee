/**
 * A rollout replaces an app's web gears (and its workers) with no moment in which none serves. `surge`: new gears
 * start beside the old ones and must pass their health checks (a worker: keep running for the settle time). Then
 * either `retire`: the old gears leave the routers, drain and stop; or `rollback`: the new gears go and the old ones,
 * which never stopped serving, keep serving. Deployments and configuration changes (environment, restart) roll out
 * the same way; this is the decision they share, kept free of I/O so that it is tested on its own.
 */
export type RolloutStage = 'surge' | 'retire' | 'rollback';

/** The gears of a rollout, by id: those it started, and those they replace. */
export interface RolloutGears {
  fresh: string[];
  old: string[];
}

export type RolloutNext =
  /** The fresh gears are healthy: the old ones go. */
  | { stage: 'retire'; remove: string[] }
  /** A fresh gear never got healthy: the fresh ones go. */
  | { stage: 'rollback'; remove: string[] }
  /** Retiring or rolling back is done: the rollout is over. */
  | { stage: 'done'; remove: [] };

/** What follows a stage of a rollout, given whether the stage's work failed on some node. */
export function nextRolloutStage(stage: RolloutStage, failed: boolean, gears: RolloutGears): RolloutNext {
  if (stage !== 'surge') return { stage: 'done', remove: [] };
  return failed ? { stage: 'rollback', remove: [...gears.fresh] } : { stage: 'retire', remove: [...gears.old] };
}

/**
 * A configuration change that rolls out: the environment the fresh gears start with (absent: the app's own, as for a
 * restart). The app takes it only once they are healthy, so a change that breaks the app never reaches it.
 */
export interface ConfigRollout extends RolloutGears {
  env?: Record<string, string>;
  /** A cartridge the change added; the old gears run as if it were not there, and a rollback removes it. */
  added?: string;
  /**
   * The web cartridge the change moved to another version of its runtime: the old gears run as they did under
   * `from`, the fresh ones under `to`, and a rollback names the app's web cartridge `from` again.
   */
  renamed?: { from: string; to: string };
}

/** Reads a rollout from an operation's context (stored as JSON), or null when the operation has none. */
export function rolloutOf(context: { rollout?: Partial<ConfigRollout> } | Record<string, unknown>): ConfigRollout | null {
  const r = context.rollout as Partial<ConfigRollout> | undefined;
  if (!r || !Array.isArray(r.fresh) || !Array.isArray(r.old)) return null;
  return { fresh: r.fresh, old: r.old, ...(r.env ? { env: r.env } : {}), ...(r.added ? { added: r.added } : {}), ...(r.renamed ? { renamed: r.renamed } : {}) };
}
