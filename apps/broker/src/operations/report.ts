import type { BrokerJobs } from '@gearshift/cartridges';
import type { Operation, OperationStep } from './operation.entity';

/**
 * How a node's report changes an operation, decided without I/O: the service loads the operation, asks these
 * functions what follows, and carries the decision out (writes, dispatch, the lines followers see).
 */

export type OperationReport = BrokerJobs['operation.report'];

/** The fields of an operation that reports change: plain data, read from and written back to the row. */
export type OperationFields = Pick<Operation, 'kind' | 'appId' | 'state' | 'steps' | 'error' | 'pendingNodes' | 'dispatch' | 'context' | 'finishedAt'>;

/** A line of an operation's progress, as followers see it. */
export type OperationLine = { kind: 'step'; text: string } | { kind: 'log'; text: string } | { kind: 'end'; state: string; error: string | null };

/** What a stage of an operation ended with, when the last node reported. */
export interface StageOutcome {
  failed: boolean;
  error: string | null;
}

/** What a staged operation's handler says follows a stage: new jobs and a step; no jobs ends the operation. */
export interface StageNext {
  dispatch: Operation['dispatch'];
  step: string;
  error?: string | null;
}

export interface ReportDecision {
  /** The operation after the report. */
  operation: OperationFields;
  /** Whether the row changed and is written back. */
  save: boolean;
  /** Build or hook output lines, for the operation's own log (a deployment's). */
  log: string[];
  /** The node's gears of the app that it could not make: they say why, instead of waiting as "starting". */
  markFailed: { appId: string; nodeId: string; except: string[]; message: string } | null;
  /** Set when the last pending node reported: the stage ended with this outcome, and its handler says what follows. */
  stageEnded: StageOutcome | null;
  /** Lines for followers, after the commit. */
  lines: OperationLine[];
}

const terminal = (op: Pick<OperationFields, 'state'>) => op.state === 'succeeded' || op.state === 'failed';

/** Applies one node's report to an operation: its step, its output, and (for a node's last word) its outcome. */
export function reduceReport(op: OperationFields, r: OperationReport): ReportDecision {
  const next: OperationFields = { ...op };
  // Steps the node batched come first: they were taken before this report's output, step or outcome.
  const earlier = (r.steps ?? []).map((s): OperationStep => ({ at: new Date(s.at).toISOString(), node: r.nodeId, text: s.text }));
  const lines: OperationLine[] = [
    ...earlier.map((s) => ({ kind: 'step' as const, text: s.text })),
    ...(r.log ?? []).map((text) => ({ kind: 'log' as const, text })),
  ];
  const decision: ReportDecision = { operation: next, save: false, log: [...(r.log ?? [])], markFailed: null, stageEnded: null, lines };
  // The reason of a failure is the operation's error, printed once when it ends (with what happened meanwhile).
  const text = r.phase === 'step' ? r.step : r.phase === 'succeeded' ? 'node finished' : 'node failed';
  const taken = text ? [...earlier, { at: new Date(r.at).toISOString(), node: r.nodeId, text }] : earlier;
  if (taken.length > 0) {
    next.steps = [...op.steps, ...taken].sort((a, b) => a.at.localeCompare(b.at));
    if (text) lines.push({ kind: 'step', text });
  }
  // A progress line can arrive after the outcome; it is kept, but the outcome stands.
  if (terminal(op)) {
    decision.save = r.phase === 'step' && taken.length > 0;
    return decision;
  }
  decision.save = true;
  if (op.state === 'queued') next.state = 'running';
  if (r.phase === 'step' || !op.pendingNodes.includes(r.nodeId)) return decision;
  next.pendingNodes = op.pendingNodes.filter((n) => n !== r.nodeId);
  if (r.result) next.context = { ...op.context, ...r.result };
  if (r.phase === 'failed') {
    next.error = op.error ? `${op.error}; ${r.error}` : (r.error ?? 'failed');
    decision.markFailed = { appId: r.appId, nodeId: r.nodeId, except: r.gears.map((g) => g.gearId), message: r.error ?? 'failed' };
  }
  if (next.pendingNodes.length === 0) decision.stageEnded = { failed: Boolean(next.error), error: next.error };
  return decision;
}

export interface StageDecision {
  /** The operation after its stage. */
  operation: OperationFields;
  /** `continue`: send the next stage's jobs; `serve`: it succeeded, and ends once the routers serve it; `end`: it ended. */
  then: 'continue' | 'serve' | 'end';
  /** The app to delete with an `app.delete` that succeeded (the operation keeps no reference to it). */
  deleteApp: string | null;
  lines: OperationLine[];
}

/**
 * What follows the end of a stage: the next stage (`next` has jobs), or the end of the operation. `next` is the
 * stage handler's word (null for an operation that does not run in stages); `now` stamps the step and the end.
 */
export function reduceStageEnd(op: OperationFields, next: StageNext | null, now: Date): StageDecision {
  const after: OperationFields = { ...op };
  const lines: OperationLine[] = [];
  const decision: StageDecision = { operation: after, then: 'end', deleteApp: null, lines };
  if (next) {
    after.steps = [...op.steps, { at: now.toISOString(), text: next.step }];
    lines.push({ kind: 'step', text: next.step });
    if (next.error !== undefined) after.error = next.error;
  }
  if (next && next.dispatch.length > 0) {
    after.dispatch = next.dispatch;
    after.pendingNodes = [...new Set(next.dispatch.map((d) => d.nodeId))];
    decision.then = 'continue';
    return decision;
  }
  if (!after.error && after.appId && op.kind !== 'app.delete') {
    // Succeeded on every node; it ends once the routers serve what it changed.
    after.context = { ...op.context, serving: true };
    decision.then = 'serve';
    return decision;
  }
  after.state = after.error ? 'failed' : 'succeeded';
  after.finishedAt = now;
  if (op.kind === 'app.delete' && after.state === 'succeeded' && after.appId) {
    decision.deleteApp = after.appId;
    after.appId = null;
  }
  return decision;
}
