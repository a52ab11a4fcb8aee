/**
 * What the broker's REST API answers, as far as the CLI reads it. Dates arrive as ISO strings. The broker's
 * presenters are the truth (apps, operations, deployments, nodes, aliases); these types follow them and are kept to
 * the fields a command prints or sends on, plus the identity fields scripts rely on in --json output.
 */
import type { AppHealth, CartridgeManifest, GearState } from '@gearshift/cartridges';

export type { GearState } from '@gearshift/cartridges';

export type OperationState = 'queued' | 'running' | 'succeeded' | 'failed';

/** One asynchronous change and its outcome. */
export interface Operation {
  id: string;
  kind: string;
  state: OperationState;
  /** A placement's step names every node it considered, and why each was or was not chosen. */
  steps: { at: string; text: string; considered?: { node: string; zone: string | null; chosen: boolean; reason: string }[] }[];
  error: string | null;
  createdAt?: string;
  finishedAt?: string | null;
}

/** An app's operation as its history lists it: asked by a user or started by the platform. */
export interface AppOperation extends Operation {
  by: 'user' | 'platform';
}

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

export interface Domain {
  name: string;
  /** The team that holds it. */
  team: string | null;
  createdAt: string;
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

export interface Cartridge {
  name: string;
  displayName: string;
  version: string;
  /** current, or deprecated: kept for the apps that use it. */
  status?: 'current' | 'deprecated';
  endOfLife?: string | null;
  /** The Debian release its image is built on. */
  base?: string;
  /** The family name that means this cartridge in a request, when it is the newest current one. */
  defaultFor?: string | null;
  categories: string[];
  hash: string;
  /** The cartridge's manifest, as its folder declares it. */
  manifest: CartridgeManifest;
}

export interface Gear {
  id: string;
  cartridge: string;
  node: string;
  state: GearState;
  release: number | null;
  message: string | null;
  ports: Record<string, number>;
  /** Endpoint name to URL, e.g. `http` → `http://127.0.0.1:32768`. */
  endpoints: Record<string, string>;
}

export interface Autoscale {
  min: number;
  max: number;
  targetConcurrency: number;
}

/** One named service of an app (gearshift.yml `services:`), as GET app lists it. */
export interface AppService {
  name: string;
  scale: number;
  gears: number;
  release: number | null;
  cartridge: string | null;
}

export interface App {
  name: string;
  domain: string;
  url: string;
  state: string;
  status: string;
  /** Why the app cannot fully run (its data was on a lost node); null when nothing is wrong. */
  degraded?: string | null;
  size: string;
  scale: number;
  cartridges: string[];
  /** Its named services: how many gears each runs (and should), and the release they run. */
  services?: AppService[];
  /** Databases an upgrade replaced, stopped with their volume kept until the upgrade is confirmed or aborted. */
  kept?: { cartridge: string; upgradedTo: string }[];
  autoscale: Autoscale | null;
  idleAfterSeconds: number | null;
  health: AppHealth | null;
  env: Record<string, string>;
  release: number | null;
  gears: Gear[];
  createdAt: string;
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

/** A variable a cartridge of the app publishes to its web gears; secret values come masked unless revealed. */
export interface PublishedVar {
  name: string;
  value: string;
  secret: boolean;
  from: string;
}

export interface AppEnv {
  env: Record<string, string>;
  published?: PublishedVar[];
  revealed?: boolean;
}

export type ScaleRequest = { replicas: number; process?: string; service?: string } | { min: number; max: number; targetConcurrency?: number };

export type DeploymentState = 'building' | 'rolling-out' | 'active' | 'inactive' | 'failed';

export interface DeploymentSource {
  kind: 'archive' | 'git-push' | 'git';
  url?: string;
  ref?: string;
  commit?: string;
  bytes: number;
  files: number;
}

export interface Deployment {
  id: string;
  number: number;
  state: DeploymentState;
  source: DeploymentSource;
  image: string | null;
  dockerfile: string | null;
  hooks: string[];
  health: AppHealth | null;
  error: string | null;
  /** The id of the operation that built and rolled it out. */
  operation: string | null;
  createdAt: string;
  finishedAt: string | null;
  /** Whether it is the release the app serves (in the history and in a single release). */
  active?: boolean;
  /** The build and rollout output (a single release only). */
  log?: string;
}

/** A deployment or an activation: the release and the operation that rolls it out. */
export interface DeploymentChange {
  app: string;
  domain: string;
  deployment: Deployment | null;
  operation: Operation;
}

export interface Node {
  id: string;
  name: string;
  state: string;
  ready: boolean;
  lastHeartbeat: string | null;
  address: string | null;
  zone: string | null;
  labels: Record<string, string>;
  capacity: { memoryMb: number; maxGears: number };
  allocated: { memoryMb: number; gears: number };
  agentRssMb: number | null;
}

export interface Alias {
  host: string;
  tls: boolean;
  certificate: { subject: string; validTo: string; fingerprint256: string } | null;
  createdAt: string;
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
  startedAt: string | null;
  finishedAt: string | null;
  exitCode: number | null;
  error: string | null;
  output: string;
}

/** `GET .../cron`: the entries of the app's release, each with its next time and newest runs. */
export interface CronView {
  release: number | null;
  entries: { schedule: string; command: string; process: string; next: string | null; runs: CronRunView[] }[];
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
