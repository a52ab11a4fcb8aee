/**
 * What the broker's REST API answers, as far as the CLI reads it: the types the console reads as well come from
 * the shared library, and the CLI's own follow them here. The broker's presenters are the truth.
 */
import type { App, Deployment, Operation } from '@gearshift/cartridges/src/api-types';

export type {
  Alias,
  App,
  AppEnv,
  AppOperation,
  AppService,
  Autoscale,
  Cartridge,
  Deployment,
  DeploymentSource,
  DeploymentState,
  Domain,
  Gear,
  GearState,
  Node,
  Operation,
  OperationState,
  PublishedVar,
} from '@gearshift/cartridges/src/api-types';

export interface LoginAnswer {
  token: string;
  expiresAt: string;
  username: string;
}

export type TokenScope = 'read' | 'deploy' | 'admin';

/** A personal access token as listed: never the token itself. */
export interface TokenInfo {
  id: string;
  name: string;
  scopes: TokenScope[];
  createdAt: string;
  expiresAt: string;
  lastUsedAt: string | null;
}

/** A new personal access token: the only time the broker shows `token`. */
export interface CreatedToken {
  id: string;
  name: string;
  scopes: TokenScope[];
  expiresAt: string;
  token: string;
}

export type TeamRole = 'owner' | 'developer' | 'viewer';

/** A team as GET /teams lists it: the caller's role in it (null for an administrator who is not a member). */
export interface TeamInfo {
  name: string;
  role: TeamRole | null;
  /** The team every user has, named as the user. */
  personal: boolean;
  createdAt: string;
}

export interface TeamQuota {
  maxGears: number | null;
  maxMemoryMb: number | null;
}

export interface Team extends TeamInfo {
  members: { username: string; role: TeamRole; since: string }[];
  quota: TeamQuota;
  use: { gears: number; memoryMb: number };
}

/** A change to an app answers with the app as it now is and the operation carrying the change out. */
export interface AppChange extends App {
  operation: Operation;
  /** What the broker has to say about the request (a deprecated cartridge). */
  warnings?: string[];
}

/** Deleting an app answers with the app while its gears are still going, or this once it is gone. */
export interface AppDeleted {
  deleted: true;
  operation: Operation;
}

export type ScaleRequest =
  { replicas: number; process?: string; service?: string } | { min: number; max: number; targetConcurrency?: number; service?: string };

/** A deployment or an activation: the release and the operation that rolls it out. */
export interface DeploymentChange {
  app: string;
  domain: string;
  deployment: Deployment | null;
  operation: Operation;
}

/** One step of an apply plan. */
export interface PlanItem {
  action: 'create' | 'add' | 'remove' | 'change';
  target: string;
  from?: unknown;
  to?: unknown;
  reason: string;
  /** What would be lost: set when the change removes data. */
  loses?: string;
}

/** `apply?dryRun=true`: the plan, and whether it deletes data. */
export interface ApplyPlan {
  dryRun: true;
  app: string;
  plan: PlanItem[];
  losesData: boolean;
  warnings?: string[];
  /** A compose file's settings that Gearshift ignores or changes, one a line. */
  notes?: string[];
}

/** `apply`: the plan carried out as one operation, or none when the app already is what the file says. */
export interface ApplyResult {
  app: string;
  plan: PlanItem[];
  operation: Operation | null;
  unchanged?: boolean;
}

export interface SnapshotRestore {
  app: string;
  domain: string;
  /** The cartridges whose data the snapshot put back. */
  restores: string[];
  operation: Operation;
}

/** One event of the audit log. */
export interface AuditEvent {
  id: string;
  at: string;
  user: string | null;
  token: { id: string; kind: string | null; name: string | null } | null;
  address: string | null;
  action: string;
  target: string | null;
  domain: string | null;
  status: number;
  outcome: 'ok' | 'refused' | 'failed';
  operationId: string | null;
  details: Record<string, unknown>;
}

/** One run of a cron entry. */
export interface CronRunView {
  dueAt: string;
  state: 'running' | 'succeeded' | 'failed' | 'skipped';
  release: number;
  /** The named service it ran in; null when it ran as a process of the release's image (`process`). */
  service?: string | null;
  process?: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  exitCode: number | null;
  error: string | null;
  output: string;
}

/** `GET .../cron`: the entries of the app's release, each with its next time and newest runs. */
export interface CronView {
  release: number | null;
  /** `process` is null for an entry that runs in a named service (`service`). */
  entries: { schedule: string; command: string; process: string | null; service: string | null; next: string | null; runs: CronRunView[] }[];
}

/** What `app recover` did: the gears it moved off lost nodes, and the snapshot it put back. */
export interface AppRecovery {
  app: string;
  domain: string;
  moved: { gear: string; cartridge: string; from: string; to: string }[];
  /** The kept snapshot restored (when it was taken), or null when the broker keeps none of this app. */
  snapshot: { takenAt: string } | null;
  operation: Operation;
}
