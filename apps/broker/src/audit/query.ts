import { invalid } from '../common/errors';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 500;

export interface AuditQuery {
  since?: Date;
  until?: Date;
  username?: string;
  domain?: string;
  action?: string;
  limit: number;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A moment: an ISO date and time, or a time ago such as `30m`, `1h`, `7d`. */
function moment(name: string, raw: unknown, now: number): Date | undefined {
  if (raw === undefined || raw === '') return undefined;
  const text = typeof raw === 'string' ? raw : '';
  const ago = /^(\d{1,6})([smhd])$/.exec(text);
  if (ago) return new Date(now - Number(ago[1]) * UNITS[ago[2]]);
  const at = /^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text) ? new Date(text) : null;
  if (!at || Number.isNaN(at.getTime())) {
    throw invalid(`?${name}`, 'format', `must be an ISO date and time (2026-11-29T21:00:00Z) or a time ago such as 30m, 1h or 7d, not "${text.slice(0, 40)}"`);
  }
  return at;
}

function pattern(name: string, raw: unknown, re: RegExp, what: string): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string' || !re.test(raw)) throw invalid(`?${name}`, 'pattern', `must be ${what}`);
  return raw;
}

/** Reads and checks `GET /audit`'s query; every bad parameter is a 400 that names it, as every query parameter of the API. */
export function parseAuditQuery(q: Record<string, unknown>, now = Date.now()): AuditQuery {
  const since = moment('since', q.since, now);
  const until = moment('until', q.until, now);
  if (since && until && since > until) throw invalid('?until', 'order', 'must not be before since');
  let limit = DEFAULT_LIMIT;
  if (q.limit !== undefined && q.limit !== '') {
    limit = typeof q.limit === 'string' && /^\d{1,4}$/.test(q.limit) ? Number(q.limit) : NaN;
    if (!(limit >= 1 && limit <= MAX_LIMIT)) throw invalid('?limit', 'range', `must be a whole number from 1 to ${MAX_LIMIT}`);
  }
  return {
    since,
    until,
    username: pattern('user', q.user, /^[a-z][a-z0-9._-]{0,63}$/, 'a user name'),
    domain: pattern('domain', q.domain, /^[a-z][a-z0-9]{0,31}$/, 'a domain name'),
    action: pattern('action', q.action, /^[a-z][a-z_]{0,31}(\.[a-z][a-z_]{0,31}){0,3}$/, 'an action (app.scale) or a family of actions (app)'),
    limit,
  };
}
