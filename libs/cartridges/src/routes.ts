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

/**
 * A hash, `app id/router name` → AppTraffic as JSON: each router writes its own field for each app every second, so
 * several routers never overwrite one another. Readers add them up with `sumTraffic`. (A field that is only an app id
 * is an older router's.)
 */
export const trafficKey = (instance: string): string => `${instance}:traffic`;

/**
 * A hash laid out as the traffic hash, for the routes of web services with host names of their own: the field
 * `app id:service/router name`, so that `sumTraffic` adds it up per service (see serviceTrafficId). Apart from the
 * apps' hash, whose readers count apps.
 */
export const serviceTrafficKey = (instance: string): string => `${instance}:service-traffic`;

/** What a service's traffic is known by in the service traffic hash, as `sumTraffic` gives it back. */
export const serviceTrafficId = (appId: string, service: string): string => `${appId}:${service}`;

/** The field of the traffic hash where `router` writes what it saw of `appId`. */
export const trafficField = (appId: string, router: string): string => `${appId}/${router}`;

/**
 * A router whose field for an app is this much older than the app's newest field has stopped (routers write every
 * second): its concurrency and rate no longer count.
 */
export const TRAFFIC_GONE_MS = 15_000;

export interface SummedTraffic {
  /** Per app: all its routers' traffic together. */
  apps: Map<string, AppTraffic>;
  /** Fields of stopped routers that tell nothing the others do not: the reader may delete them. */
  expired: string[];
}

/**
 * Adds up the traffic hash per app. The freshest routers (within TRAFFIC_GONE_MS of the newest) add their
 * concurrency and rate; every router still in the hash adds its HTTP counters, so the sum does not drop when one
 * stops; the last request is the latest any of them saw. A stopped router's field expires once a live router of the
 * app has seen a request as recent as its last one; until then it keeps the app from looking idle too early.
 */
export function sumTraffic(raw: Record<string, string>): SummedTraffic {
  const perApp = new Map<string, { field: string; t: AppTraffic }[]>();
  for (const [field, json] of Object.entries(raw)) {
    const t = parseTraffic(json);
    if (!t) continue;
    const slash = field.indexOf('/');
    const appId = slash < 0 ? field : field.slice(0, slash);
    perApp.set(appId, [...(perApp.get(appId) ?? []), { field, t }]);
  }
  const apps = new Map<string, AppTraffic>();
  const expired: string[] = [];
  for (const [appId, fields] of perApp) {
    const at = Math.max(...fields.map((f) => f.t.at));
    const live = fields.filter((f) => at - f.t.at <= TRAFFIC_GONE_MS);
    const gone = fields.filter((f) => at - f.t.at > TRAFFIC_GONE_MS);
    const liveLast = Math.max(...live.map((f) => f.t.lastRequestAt));
    expired.push(...gone.filter((f) => f.t.lastRequestAt <= liveLast).map((f) => f.field));
    const kept = fields.filter((f) => !expired.includes(f.field));
    const sum: AppTraffic = {
      at,
      concurrent: live.reduce((n, f) => n + f.t.concurrent, 0),
      rate: live.reduce((n, f) => n + f.t.rate, 0),
      lastRequestAt: Math.max(...kept.map((f) => f.t.lastRequestAt)),
    };
    const http = kept.flatMap((f) => (f.t.http ? [f.t.http] : []));
    if (http.length > 0) {
      // The response time is each live router's, weighted by the requests it serves now.
      const timed = live.flatMap((f) => (f.t.http ? [{ rate: f.t.rate, ms: f.t.http.responseMs }] : []));
      const weight = timed.reduce((n, r) => n + r.rate, 0);
      const responseMs = weight > 0 ? timed.reduce((n, r) => n + r.rate * r.ms, 0) / weight : Math.max(0, ...timed.map((r) => r.ms));
      sum.http = { requests: http.reduce((n, h) => n + h.requests, 0), errors: http.reduce((n, h) => n + h.errors, 0), responseMs };
    }
    apps.set(appId, sum);
  }
  return { apps, expired };
}

function parseTraffic(json: string): AppTraffic | undefined {
  try {
    const t = JSON.parse(json) as AppTraffic;
    return typeof t?.at === 'number' && typeof t.rate === 'number' && typeof t.concurrent === 'number'
      ? { ...t, lastRequestAt: Number(t.lastRequestAt) || 0 }
      : undefined;
  } catch {
    return undefined;
  }
}

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
  /**
   * A web service of the app with host names of its own: this route sends them to that service's gears, beside the
   * app's own route. Absent: the app's route (its host name and aliases).
   */
  service?: string;
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
