import { ConfigError } from './settings';

/**
 * Where a Postgres URL leads, read as libpq reads it (psql, pg_dump) and as node-postgres does. A server on this host
 * is reached through its Unix socket: the directory of the socket is the host, either percent-encoded in the URL's
 * host (`postgresql://user:pw@%2Fvar%2Frun%2Fpostgresql/db`) or in a `host` query parameter beside an empty host
 * (`postgresql://user:pw@/db?host=/var/run/postgresql`). Any other host is reached over TCP.
 */
export interface PostgresUrl {
  /** The directory of the server's Unix socket; absent: a TCP connection to `host`. */
  socketDir?: string;
  /** The TCP host (an IPv6 address without its brackets); absent over a socket. */
  host?: string;
  /** The server's port: over a socket it names the socket's file (.s.PGSQL.<port>). */
  port: number;
  user: string;
  password: string;
  database: string;
}

export const POSTGRES_DEFAULT_PORT = 5432;

/**
 * The platform's database when DATABASE_URL is not set: the local Postgres through its Unix socket, in the directory
 * Debian gives it, as scripts/host.sh prepares it (the role logs in with its password there too).
 */
export const DEFAULT_DATABASE_URL = 'postgresql://gearshift:gearshift@/gearshift?host=/var/run/postgresql';

/**
 * DATABASE_URL, checked as the broker's driver and libpq's tools read it, so that a URL they would take differently
 * stops the process at start-up with the variable named; unset, the local Postgres over its socket.
 */
export function databaseUrlSetting(env: NodeJS.ProcessEnv): string {
  const raw = env.DATABASE_URL || DEFAULT_DATABASE_URL;
  parsePostgresUrl(raw, 'DATABASE_URL');
  return raw;
}

// The parts of a URL whose host may hold nothing (a socket named in the query), which WHATWG URL refuses beside a user.
const SHAPE = /^(postgres(?:ql)?:\/\/)([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/i;

/** Reads a Postgres URL; a malformed one throws a ConfigError that names `name` and never shows the password. */
export function parsePostgresUrl(raw: string, name = 'the Postgres URL'): PostgresUrl {
  const m = SHAPE.exec(raw);
  if (!m) throw new ConfigError(`${name} must be a postgresql:// (or postgres://) URL, not "${maskPassword(raw)}"`);
  const [, , authority, path = '', search = ''] = m;
  const at = authority.lastIndexOf('@');
  const userinfo = at < 0 ? '' : authority.slice(0, at);
  const hostport = authority.slice(at + 1);
  const colon = userinfo.indexOf(':');
  const hp = /^(?:\[([0-9a-f:.]+)\]|([^:[\]]*))(?::(\d*))?$/i.exec(hostport);
  if (!hp) throw new ConfigError(`${name} has a host that cannot be read: "${maskPassword(raw)}"`);
  const query = new URLSearchParams(search.slice(1));
  const decode = (part: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new ConfigError(`${name} has a bad percent-encoding: "${maskPassword(raw)}"`);
    }
  };
  const host = query.get('host') ?? decode(hp[1] ?? hp[2]);
  const portText = query.get('port') ?? hp[3];
  const port = portText ? Number(portText) : POSTGRES_DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(`${name} must have a port from 1 to 65535, not "${portText}"`);
  if (!host) {
    // libpq would take its compiled-in socket and node-postgres localhost over TCP: two servers, perhaps.
    throw new ConfigError(`${name} names no host: give one, or the directory of the server's socket (?host=/var/run/postgresql)`);
  }
  // ?user= and ?password= stand in for those of the authority, as in libpq and node-postgres.
  const base = {
    port,
    user: query.get('user') ?? decode(colon < 0 ? userinfo : userinfo.slice(0, colon)),
    password: query.get('password') ?? (colon < 0 ? '' : decode(userinfo.slice(colon + 1))),
    database: decode(path.slice(1)),
  };
  return host.startsWith('/') ? { socketDir: host, ...base } : { host, ...base };
}

/** The same URL for another database on the same server: the user, the host (or socket) and the query are kept. */
export function withPostgresDatabase(raw: string, database: string): string {
  const m = SHAPE.exec(raw);
  if (!m) throw new ConfigError(`not a postgresql:// URL: "${maskPassword(raw)}"`);
  return `${m[1]}${m[2]}/${encodeURIComponent(database)}${m[4] ?? ''}`;
}

/** The same URL without its password (which goes to libpq's tools in PGPASSWORD, never in their arguments). */
export function withoutPostgresPassword(raw: string): string {
  const m = SHAPE.exec(raw);
  if (!m) throw new ConfigError(`not a postgresql:// URL: "${maskPassword(raw)}"`);
  const at = m[2].lastIndexOf('@');
  const user = at < 0 ? '' : m[2].slice(0, at).split(':')[0];
  // The query's other parameters stay as they were written (libpq reads a + as a +, not a space).
  const kept = (m[4] ?? '')
    .slice(1)
    .split('&')
    .filter((p) => p !== '' && !p.startsWith('password='));
  const search = kept.length > 0 ? `?${kept.join('&')}` : '';
  return `${m[1]}${user ? `${user}@` : ''}${m[2].slice(at + 1)}${m[3] ?? ''}${search}`;
}

/** A URL as a message may show it: its user and password (up to the host's last @), and a ?password=, replaced. */
const maskPassword = (raw: string) => raw.replace(/\/\/[^/]*@/, '//***@').replace(/([?&]password=)[^&#]*/gi, '$1***');
