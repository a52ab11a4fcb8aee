import type { Operation } from './operation.entity';
import type { ConfigRollout, RolloutStage } from './rollout';

/**
 * What every operation's context may carry: the stage it is in (part of its jobs' ids), and `serving` once its
 * nodes all succeeded and it waits for the routers to serve what it changed.
 */
export interface BaseContext {
  stage?: 'build' | RolloutStage | UpgradeStage;
  serving?: boolean;
  /** The id of the API request that asked for the operation: its jobs carry it, for the logs. */
  requestId?: string;
  /**
   * Driven by a broker's own loop rather than by node jobs (a node's drain): nothing to dispatch again; when its
   * broker dies, the leader drives it on (OperationsService.drive()).
   */
  driven?: boolean;
  /** The broker process that drives a driven operation now: a driver that is no longer named stops. */
  driver?: string;
}

/** A deployment or the activation of an earlier release: which release, which one served before, what the build made. */
export interface DeploymentContext extends BaseContext {
  stage: 'build' | RolloutStage;
  deploymentId: string;
  /** The release that served before; it serves again if the new one fails. */
  previousDeploymentId: string | null;
  /** Set by the build's report. */
  image?: string;
  dockerfile?: 'recipe' | 'repository';
}

/** A health-gated configuration change; without `rollout` (a stopped app) it simply converges. */
export interface ConfigRolloutContext extends BaseContext {
  rollout?: ConfigRollout;
  /** The `node.drain` operation that made this move (`app.move`): a drain taken over finds its moves by it. */
  drain?: string;
}

/** A snapshot or restore: the token of its one upload or download, and the app's domain for the archive's metadata. */
export interface SnapshotContext extends BaseContext {
  token: string;
  domain?: string;
  /** The name (without .tar.gz) the node's upload is stored under in the snapshots folder; absent: the operation's id. */
  upload?: string;
}

/**
 * The stages of a database upgrade before its subscribers switch (then it rolls out: surge, retire or rollback):
 * stop the writes to the old gear, dump and count it, start the new one, restore into it, count it again; `resume`
 * lets the old gear take writes again and `undo` takes away what a failed upgrade added.
 */
export type UpgradeStage = 'quiesce' | 'dump' | 'start' | 'restore' | 'verify' | 'resume' | 'undo' | 'revive';

/** A database upgrade: from which cartridge to which, the rows the old one held, and the subscribers' rollout. */
export interface UpgradeContext extends SnapshotContext {
  stage: UpgradeStage | RolloutStage;
  from: string;
  to: string;
  /** The node both database gears run on. */
  nodeId: string;
  /** Table (Redis: `keys`) → rows, counted in the old gear as it was dumped. */
  counts?: Record<string, number>;
  /** The old gear was told to stop taking writes (its cartridge can): a failure before the switch lets them again. */
  quiesced?: boolean;
  rollout?: ConfigRollout;
}

/**
 * The abort of an upgrade that waits for its confirmation: `revive` starts the kept database `from` (health-gated),
 * `resume` lets it take writes again, then the subscribers move back to it (surge, retire) and `to` goes; `undo`
 * stops `from` again when a step fails, and the upgrade still waits.
 */
export interface UpgradeAbortContext extends BaseContext {
  stage: UpgradeStage | RolloutStage;
  from: string;
  to: string;
  /** The node of the kept gear. */
  nodeId: string;
  rollout?: ConfigRollout;
}

/** The context of each kind of operation; kinds not named here carry only the common fields. */
export interface OperationContexts {
  'app.deploy': DeploymentContext;
  'app.activate': DeploymentContext;
  'app.env': ConfigRolloutContext;
  'app.restart': ConfigRolloutContext;
  'app.reload': ConfigRolloutContext;
  'cartridge.add': ConfigRolloutContext;
  'app.apply': ConfigRolloutContext;
  'app.move': ConfigRolloutContext;
  'app.snapshot': SnapshotContext;
  'app.restore': SnapshotContext;
  'cartridge.upgrade': UpgradeContext;
  'cartridge.upgrade.abort': UpgradeAbortContext;
}

export type OperationKindWithContext = keyof OperationContexts;

/**
 * The context of an operation of one of `kinds`, typed. It is stored as JSON, written only by the code of its kind,
 * so its shape follows from the kind; an operation of another kind is a programming error, and says so.
 */
export function contextOf<K extends OperationKindWithContext>(op: Pick<Operation, 'id' | 'kind' | 'context'>, ...kinds: K[]): OperationContexts[K] {
  if (!(kinds as string[]).includes(op.kind)) throw new Error(`operation ${op.id} is ${op.kind}, not ${kinds.join(' or ')}`);
  return op.context as unknown as OperationContexts[K];
}

/** The context a new operation of `kind` starts with. */
export function newContext<K extends OperationKindWithContext>(_kind: K, context: OperationContexts[K]): Operation['context'] {
  return context as unknown as Operation['context'];
}
