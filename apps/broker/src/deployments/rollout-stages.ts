import type { AppDesiredState } from '../apps/app.entity';
import type { Operation } from '../operations/operation.entity';
import type { StageOutcome } from '../operations/report';
import { nextRolloutStage, type RolloutStage } from '../operations/rollout';
import type { DeploymentState } from '../apps/deployment.entity';

/**
 * The stage machine of a deployment, decided without I/O: `build` → `surge` (new gears beside the old, health-gated)
 * → `retire` (the old gears go) or `rollback` (the new gears go, the old keep serving). DeploymentStages loads
 * the release and the app, asks these functions what follows, and carries it out.
 */

export type DeploymentStage = 'build' | RolloutStage;

/** A gear of the app, as the stage machine sees it. */
export interface RolloutGear {
  id: string;
  nodeId: string;
  cartridge: string;
  deploymentId: string | null;
  /** A Procfile process type other than web (a worker): such gears roll out with the web gears, beside the old ones. */
  process?: string | null;
  /** The named service the gear runs: such gears roll out with the web gears, each service beside its old gears. */
  service?: string | null;
}

/** How the release's row changes. */
export type ReleaseChange =
  /** The build failed: the release failed with the build's error, and its source is no longer served. */
  | { kind: 'build-failed'; error: string | null }
  /** The build made an image: the release records it, and its source is no longer served. */
  | { kind: 'built' }
  /** Its gears never got healthy: the release failed. */
  | { kind: 'rolled-back'; error: string }
  /** It serves: it becomes the app's active release, with its environment and health check. */
  | { kind: 'activate' };

export interface RolloutDecision {
  /** The stage the operation goes on to; null: it stays where it is. */
  stage: DeploymentStage | null;
  release: ReleaseChange | null;
  /** Gears that leave the app now (the fresh ones on a rollback, the old ones on retiring). */
  removeGears: string[];
  /** The app had no release yet and its first one failed: it stops, rather than serve the starter app as if it worked. */
  stopApp: boolean;
  /** The build succeeded: the caller starts the rollout (see planRolloutStart) and takes stage, jobs and step from it. */
  startRollout: boolean;
  dispatch: Operation['dispatch'];
  step: string;
  error?: string;
}

export interface RolloutInput {
  stage: DeploymentStage | undefined;
  outcome: StageOutcome;
  release: { id: string; number: number; state: DeploymentState };
  /** The app's release that serves now, if any. */
  activeDeploymentId: string | null;
  /** The app's gears before this stage removes any. */
  gears: readonly RolloutGear[];
}

/** Every node with a gear of the app (as it was before a removal) converges, and the `extra` nodes too. */
export function convergeAll(gears: readonly Pick<RolloutGear, 'nodeId'>[], extra: readonly string[] = []): Operation['dispatch'] {
  const nodes = new Set([...gears.map((g) => g.nodeId), ...extra]);
  return [...nodes].map((nodeId) => ({ nodeId, job: 'app.converge' as const }));
}

const keep = (): Omit<RolloutDecision, 'step' | 'dispatch'> => ({ stage: null, release: null, removeGears: [], stopApp: false, startRollout: false });

/** What follows a stage of a deployment, given its outcome; null for an operation in no known stage. */
export function nextDeploymentStage(input: RolloutInput): RolloutDecision | null {
  const { outcome, release: d, gears } = input;
  const firstFailure = (what: string, error: string, release: ReleaseChange, removeGears: string[]): RolloutDecision => ({
    ...keep(),
    stage: 'rollback',
    release,
    removeGears,
    stopApp: true,
    dispatch: convergeAll(gears),
    step: `${what}; the app had no release yet, so it stops until a deployment works`,
    error,
  });
  switch (input.stage) {
    case 'build': {
      if (!outcome.failed) return { ...keep(), release: { kind: 'built' }, startRollout: true, dispatch: [], step: '' };
      const error = `the build of release ${d.number} failed: ${outcome.error}`;
      const release: ReleaseChange = { kind: 'build-failed', error: outcome.error };
      if (!input.activeDeploymentId) return firstFailure(`release ${d.number} failed to build`, error, release, []);
      return { ...keep(), release, dispatch: [], step: `release ${d.number} failed to build`, error };
    }
    case 'surge': {
      // The release's web, worker and services' gears are new; the old are the web cartridge's gears of other
      // releases, and every worker and service gear of another release (of a type or service it keeps, or one it no
      // longer has).
      const fresh = gears.filter((g) => g.deploymentId === d.id);
      const web = fresh.find((g) => !g.service && !g.process)?.cartridge;
      const old = gears.filter((g) => g.deploymentId !== d.id && (g.service || g.process || g.cartridge === web));
      const then = nextRolloutStage('surge', outcome.failed, { fresh: fresh.map((g) => g.id), old: old.map((g) => g.id) });
      if (then.stage === 'rollback') {
        // The new gears go; the old ones never stopped serving.
        const why = `release ${d.number} was rolled back: ${outcome.error}`;
        const release: ReleaseChange = { kind: 'rolled-back', error: why };
        if (!input.activeDeploymentId) return firstFailure(`the gears of release ${d.number} did not become healthy`, why, release, then.remove);
        return {
          ...keep(),
          stage: 'rollback',
          release,
          removeGears: then.remove,
          dispatch: convergeAll(gears),
          step: `rolling back: the gears of release ${d.number} did not become healthy`,
          error: why,
        };
      }
      const step = `release ${d.number} is serving${old.length > 0 ? `; retiring ${old.length} old gear(s)` : ''}`;
      return { ...keep(), stage: 'retire', release: { kind: 'activate' }, removeGears: then.remove, dispatch: convergeAll(gears), step };
    }
    case 'retire':
      return { ...keep(), release: d.state === 'active' ? null : { kind: 'activate' }, dispatch: [], step: `release ${d.number} is active` };
    default:
      return null;
  }
}

export interface RolloutStartInput {
  desiredState: AppDesiredState;
  /** The app's web gears now. */
  webGears: number;
  /** The fewest web gears the web cartridge runs with. */
  minGears: number;
  /** The app was stopped because its first release failed: the next deployment is the app starting. */
  stoppedAfterFirstFailure: boolean;
}

export interface RolloutStart {
  stage: 'surge' | 'retire';
  /** The app starts (it had stopped after its first release failed). */
  start: boolean;
  /** New web gears of the release to add beside the current ones; null: the app's web gears just take the release. */
  addGears: number | null;
  /** The release's gears are the app's first web gears. */
  first: boolean;
}

/**
 * The first stage of a rollout. A serving app gets new gears beside the old (`surge`); a stopped or idle one just
 * points its web gears at the release (`retire`, which here only converges).
 */
export function planRolloutStart(input: RolloutStartInput): RolloutStart {
  const start = input.desiredState === 'stopped' && input.stoppedAfterFirstFailure;
  const started = start || input.desiredState === 'started';
  // The first release of an app whose runtime was detected: its gears are the app's first web gears, and must
  // pass their health checks like any surge (nothing older serves meanwhile).
  if (started && input.webGears === 0) return { stage: 'surge', start, addGears: Math.max(1, input.minGears), first: true };
  if (!started) return { stage: 'retire', start, addGears: null, first: false };
  return { stage: 'surge', start, addGears: input.webGears, first: false };
}

/** The step that says how a built release rolls out. */
export function rolloutStartStep(release: number, start: Pick<RolloutStart, 'stage' | 'first'>): string {
  if (start.first) return `starting the first gears of the app, with release ${release}`;
  return start.stage === 'surge' ? `starting gears of release ${release} beside the current ones` : `release ${release} will run when the app starts`;
}
