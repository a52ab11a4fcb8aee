/**
 * The route table: what the router serves. The broker computes it from Postgres and publishes it in Redis (a key
 * with the latest table, and a channel that says a new one is there); routers render it into their proxy's
 * configuration.
 */

export const routesKey = (instance: string): string => `${instance}:routes`;
export const routesChannel = (instance: string): string => `${instance}:routes-changed`;
/**
 * A hash, router name → RouterAck as JSON: the route table version each router serves. A router writes it once its
 * proxy answers with that table, and again every few seconds while it lives; the broker waits on it before an
 * operation that changed routes ends.
 */
export const routersKey = (instance: string): string => `${instance}:routers`;

export interface RouterAck {
  /** The version of the route table the router's proxy serves. */
  version: number;
  /** When the router last said so (ms since the epoch): a router silent for long is gone. */
  at: number;
}

/** A hash, app id → AppTraffic as JSON, written by routers every second. */
export const trafficKey = (instance: string): string => `${instance}:traffic`;

export interface AppTraffic {
  /** When the router sampled it (ms since the epoch). */
  at: number;
  concurrent: number;
  rate: number;
  lastRequestAt: number;
  /**
   * HAProxy's HTTP counters for the app since it last (re)loaded: requests, 5xx answers, and the average response
   * time of recent requests in ms. For the broker's metrics; absent from an older router.
   */
  http?: { requests: number; errors: number; responseMs: number };
}

export interface RouteBackend {
  gearId: string;
  /** The name of the node that runs the gear. */
  node: string;
  /** The gear's port published on its node's address: reachable from any router. */
  host: string;
  port: number;
  /** The gear's own address and port: reachable only on its node, and cheaper there (no port proxy in between). */
  inside?: { host: string; port: number };
}

export type RouteHealth = { kind: 'http'; path: string; status?: number | 'any' } | { kind: 'tcp' };

export interface AppRoute {
  appId: string;
  app: string;
  domain: string;
  /** Every host name the app answers to: its own and its aliases, lower case. */
  hosts: string[];
  /**
   * `stopped`: the user stopped it, the router says so with a 503 page. `idle`: its web gears sleep; the router holds
   * the next request while it asks the broker to wake the app.
   */
  state: 'serving' | 'stopped' | 'idle';
  /** Why a stopped app stopped, when the platform stopped it: its first deployment failed (one line). */
  failure?: string;
  /**
   * The web gears' health check, the same one the rollout waits for, used by the router to take a failing gear out:
   * an HTTP request and the answer that counts as healthy, or a plain connection. Null: no check.
   */
  health: RouteHealth | null;
  backends: RouteBackend[];
  /** Certificate and key (PEM, concatenated) per alias with TLS, sealed with the platform's key (sealRouteSecret). */
  tls: { host: string; pem: string }[];
}

export interface RouteTable {
  version: number;
  apps: AppRoute[];
}
