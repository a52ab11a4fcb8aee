import { tlsPairProblem, type AppRoute, type RouteTable } from '@gearshift/cartridges';

/**
 * The router's own look at the route table before any of it reaches HAProxy. The broker checks what it stores, but
 * the table comes through Redis, and one item HAProxy refuses would make it refuse the whole configuration: every
 * other change would stop being applied. So each item is checked on its own, and a bad one is left out with the
 * reason, while the rest is served.
 */

export interface Skipped {
  /** Which item: an app (`app shop-acme (id)`) or one certificate (`certificate of www.shop.test`). */
  item: string;
  reason: string;
}

const HOST = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const NAME = /^[a-z][a-z0-9]{0,31}$/;
/** A named service of an app (as gearshift.yml names them). */
const SERVICE = /^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$/;
const ID = /^[0-9a-f][0-9a-f-]{0,63}$/;
/** An HTTP request path HAProxy's `option httpchk` takes as one word: printable, no spaces, quotes or escapes. */
const CHECK_PATH = /^\/[A-Za-z0-9._~!$&'()*+,;=:@/?%-]{0,1023}$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPort = (v: unknown) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535;
const isAddress = (v: unknown) => typeof v === 'string' && (HOST.test(v) || /^[0-9a-f:.]{2,45}$/i.test(v));

/** Why an app's route cannot be served, or null. Certificates are checked apart (see certificateProblem). */
export function routeProblem(r: unknown): string | null {
  if (!isObject(r)) return 'is not an object';
  if (typeof r.appId !== 'string' || !ID.test(r.appId)) return 'has no valid app id';
  if (typeof r.app !== 'string' || !NAME.test(r.app)) return 'has no valid app name';
  if (typeof r.domain !== 'string' || !NAME.test(r.domain)) return 'has no valid domain name';
  if (r.service !== undefined && (typeof r.service !== 'string' || !SERVICE.test(r.service))) return 'has no valid service name';
  if (!Array.isArray(r.hosts) || r.hosts.length === 0) return 'has no host names';
  const badHost = r.hosts.find((h) => typeof h !== 'string' || !HOST.test(h));
  if (badHost !== undefined) return `has a host name that is not one: ${JSON.stringify(badHost).slice(0, 80)}`;
  if (!['serving', 'stopped', 'idle'].includes(r.state as string)) return `has an unknown state ${JSON.stringify(r.state)}`;
  if (r.failure !== undefined && typeof r.failure !== 'string') return 'has a failure that is not text';
  const h = r.health;
  if (h !== null && h !== undefined) {
    if (!isObject(h)) return 'has a health check that is not an object';
    if (h.kind === 'http') {
      if (typeof h.path !== 'string' || !CHECK_PATH.test(h.path)) return `has a health check path HAProxy cannot take: ${JSON.stringify(h.path)}`;
      if (h.status !== undefined && h.status !== 'any' && !(Number.isInteger(h.status) && (h.status as number) >= 100 && (h.status as number) <= 599)) {
        return `has a health check status that is not one: ${JSON.stringify(h.status)}`;
      }
    } else if (h.kind !== 'tcp') return `has an unknown health check kind ${JSON.stringify(h.kind)}`;
  }
  if (!Array.isArray(r.backends)) return 'has no list of gears';
  for (const b of r.backends) {
    if (!isObject(b) || typeof b.gearId !== 'string' || !ID.test(b.gearId)) return 'has a gear without a valid id';
    if (typeof b.node !== 'string') return `has gear ${b.gearId} without a node`;
    if (!isAddress(b.host) || !isPort(b.port)) return `has gear ${b.gearId} without a valid address and port`;
    if (b.inside !== undefined && (!isObject(b.inside) || !isAddress(b.inside.host) || !isPort(b.inside.port))) {
      return `has gear ${b.gearId} with an invalid inside address`;
    }
  }
  if (!Array.isArray(r.tls)) return 'has no list of certificates';
  return null;
}

/** The certificate blocks and the key block of a PEM bundle. */
function splitPem(pem: string): { certificate: string; key: string } {
  const blocks = pem.match(/-----BEGIN ([A-Z ]+)-----[\s\S]*?-----END \1-----/g) ?? [];
  return {
    certificate: blocks.filter((b) => b.startsWith('-----BEGIN CERTIFICATE-----')).join('\n'),
    key: blocks.filter((b) => /^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(b)).join('\n'),
  };
}

/**
 * Why a route's certificate cannot be served for its host, or null: it must be for one of the app's own host names,
 * and pass the same checks the broker makes before storing one (readable, a strong key that matches, covers the host,
 * in date).
 */
export function certificateProblem(t: unknown, hosts: string[], now: number): string | null {
  if (!isObject(t) || typeof t.host !== 'string' || typeof t.pem !== 'string') return 'is not a host and a PEM';
  if (!hosts.includes(t.host)) return `is for ${t.host.slice(0, 80)}, which is not a host name of the app`;
  const { certificate, key } = splitPem(t.pem);
  const problem = tlsPairProblem(t.host, certificate || undefined, key || undefined, now);
  return problem ? `${problem.pointer.slice(1)} ${problem.message}` : null;
}

/**
 * The part of a table the router can serve, and what it left out and why. An app with a bad item is left out whole
 * (serving half of its description could send its traffic to the wrong place); a bad certificate is left out alone,
 * and its host is still served over plain HTTP. A host name two apps claim is served for the first only. `open`
 * turns a certificate and key as the table carries them (sealed) into PEM, in memory; one that does not open is left
 * out with why.
 */
export function servableTable(table: unknown, now: number = Date.now(), open?: (pem: string) => string): { table: RouteTable; skipped: Skipped[] } {
  if (!isObject(table) || typeof table.version !== 'number' || !Array.isArray(table.apps)) {
    throw new Error('the route table is not a table (no version or no list of apps)');
  }
  const skipped: Skipped[] = [];
  const apps: AppRoute[] = [];
  const taken = new Set<string>();
  for (const r of table.apps as unknown[]) {
    const problem = routeProblem(r);
    const name = isObject(r)
      ? `app ${String(r.app)}-${String(r.domain)}${r.service === undefined ? '' : ` service ${String(r.service)}`} (${String(r.appId)})`.slice(0, 120)
      : 'an app';
    if (problem) {
      skipped.push({ item: name, reason: problem });
      continue;
    }
    const own = r as unknown as AppRoute;
    const clashes = own.hosts.filter((h) => taken.has(h));
    for (const h of clashes) skipped.push({ item: `host ${h} of ${name}`, reason: 'an earlier app in the table has it' });
    const route = { ...own, hosts: own.hosts.filter((h) => !taken.has(h)) };
    if (route.hosts.length === 0) continue;
    for (const h of route.hosts) taken.add(h);
    const tls = route.tls.flatMap((sealed) => {
      const item = `certificate of ${isObject(sealed) ? String(sealed.host).slice(0, 80) : '?'} (${name})`;
      let t: unknown = sealed;
      if (open && isObject(sealed) && typeof sealed.pem === 'string') {
        try {
          t = { ...sealed, pem: open(sealed.pem) };
        } catch (err) {
          skipped.push({ item, reason: (err as Error).message });
          return [];
        }
      }
      const why = certificateProblem(t, route.hosts, now);
      if (why) skipped.push({ item, reason: why });
      return why ? [] : [t as AppRoute['tls'][number]];
    });
    apps.push({ ...route, tls });
  }
  return { table: { version: table.version, apps }, skipped };
}
