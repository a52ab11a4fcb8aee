/**
 * What the broker's REST API answers, as both its clients (the CLI and the console) read it. Dates arrive as ISO
 * strings. The broker's presenters are the truth (apps, operations, deployments, nodes, aliases); these types follow
 * them and are kept to the fields a client shows or sends on, plus the identity fields scripts rely on in --json
 * output. What only one client reads stays with that client.
 *
 * Not exported from the library's index: its names are the API's views (a `Cartridge` as the API lists it, not the
 * library's). It reaches only type-only modules, so the console's browser build can read it without Node's types.
 */
import type { AppHealth } from './app-health';
import type { GearState } from './gear-state';
import type { CartridgeManifest } from './manifest.schema';

export type { AppHealth } from './app-health';
export type { GearState } from './gear-state';

export type OperationState = 'queued' | 'running' | 'succeeded' | 'failed';

/** One asynchronous change and its outcome. */
export interface Operation {
  id: string;
  kind: string;
  state: OperationState;
  /**
   * A placement's step names the nodes it considered, and why each was or was not chosen: every node for the first few
   * placements of an operation, then the chosen one, with the others counted by why in `passedOver`.
   */
  steps: {
    at: string;
    text: string;
    considered?: { node: string; zone: string | null; chosen: boolean; reason: string }[];
    passedOver?: Record<string, number>;
  }[];
  error: string | null;
  createdAt?: string;
  finishedAt?: string | null;
}

/** An app's operation as its history lists it: asked by a user or started by the platform. */
export interface AppOperation extends Operation {
  /** The name of the user who asked, or `platform` for the platform's own loops (autoscaler, recovery, cron). */
  by: string;
}

export interface Domain {
  name: string;
  /** The team that holds it. */
  team: string | null;
  createdAt: string;
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
  /** The Procfile process type a worker gear runs; absent for web and service gears. */
  process?: string;
  /** The named service a gear runs; absent for cartridge and process gears. */
  service?: string;
  node: string;
  state: GearState;
  release: number | null;
  message: string | null;
  ports: Record<string, number>;
  /** Endpoint name to URL, e.g. `http` → `http://127.0.0.1:32768`. */
  endpoints: Record<string, string>;
  createdAt: string;
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
  /** A web service's own host names, routed to its gears. */
  hosts?: string[];
  /** An autoscaled web service: the bounds its scale moves between with its traffic. */
  autoscale?: Autoscale;
}

export interface App {
  name: string;
  domain: string;
  url: string;
  state: string;
  status: string;
  /** Why the app cannot fully run (its data was on a lost node); null when nothing is wrong. */
  degraded?: string | null;
  /** Why a stopped app is stopped: its first deployment failed (and how), or it was stopped on request. */
  stoppedBecause?: string;
  /** What the owner should know, one line each: a variable two cartridges publish, and whose value is given. */
  warnings?: string[];
  size: string;
  scale: number;
  cartridges: string[];
  /** Gears of each Procfile process type other than web (`worker: 1`); `scale` counts the web ones. */
  processes?: Record<string, number>;
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

/**
 * `building` → `rolling-out` → `active`; the release it replaced becomes `inactive` (and can be activated again).
 * A build that fails, or a release whose gears never get healthy, ends `failed`.
 */
export type DeploymentState = 'building' | 'rolling-out' | 'active' | 'inactive' | 'failed';

export interface DeploymentSource {
  kind: 'archive' | 'git-push' | 'git';
  /** For git: the URL (without credentials) and ref; for a push, the commit. */
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
