/**
 * What a changing call of the API is, in the audit log's words: a stable dotted action, the thing it was aimed at,
 * and a few facts about it. Pure, so that the naming and, above all, what is kept of a body (names, never values,
 * passwords, tokens or keys) can be read and tested in one place.
 */

/** A changing call as the router saw it: the route's pattern below the API prefix, its parameters and its body. */
export interface AuditedCall {
  method: string;
  /** The route's pattern below /api/v1, such as `/domains/:domain/apps/:app/scale`. */
  route: string;
  params: Record<string, string | undefined>;
  query: Record<string, unknown>;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

export interface AuditDescription {
  action: string;
  /** What the call was aimed at: `domain/app`, a domain, a user name, a node, an operation… */
  target: string | null;
  /** The domain the call was aimed at; its members may read the event. */
  domain: string | null;
  details: Record<string, unknown>;
}

export type Outcome = 'ok' | 'refused' | 'failed';

/** 2xx and 3xx are done, 4xx refused (bad input, not allowed, not found, too many), 5xx failed. */
export function outcomeOf(status: number): Outcome {
  if (status >= 500) return 'failed';
  return status >= 400 ? 'refused' : 'ok';
}

type Body = Record<string, unknown>;
interface Rule {
  /** The action, or how the body names it. */
  action: string | ((body: Body) => string);
  target?: (c: AuditedCall, body: Body) => string | null;
  details?: (body: Body, c: AuditedCall) => Record<string, unknown>;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;
/** At most this many names go into one event: a body of ten thousand variables must not make a huge row. */
const MAX_NAMES = 100;

const asObject = (v: unknown): Body => (v && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v) ? (v as Body) : {});
const str = (v: unknown, max = 253): string | undefined => (typeof v === 'string' && v.length > 0 ? v.slice(0, max) : undefined);
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);
const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);
/** The names of an object's keys that look like names (a variable, a cartridge): never its values. */
const keyNames = (v: unknown): string[] =>
  Object.keys(asObject(v))
    .filter((k) => NAME.test(k))
    .slice(0, MAX_NAMES);
const strings = (v: unknown): string[] | undefined =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && NAME.test(x)).slice(0, MAX_NAMES) : undefined;

/** A one-off command's words as it was given (who ran what is the point of the event), cut to a sane size. */
export const commandWords = (v: unknown): string[] | undefined =>
  Array.isArray(v)
    ? v
        .filter((x): x is string => typeof x === 'string')
        .slice(0, MAX_NAMES)
        .map((x) => x.slice(0, 500))
    : undefined;

/** Drops what is undefined, so that details show only what the call carried. */
function compact(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** A git URL without the user, password, query or fragment it may carry (credentials live there). */
export function safeUrl(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  try {
    const u = new URL(raw);
    return `${u.protocol}//${u.host}${u.pathname}`.slice(0, 500);
  } catch {
    return undefined;
  }
}

const app = (c: AuditedCall) => `${c.params.domain}/${c.params.app}`;
const param = (name: string) => (c: AuditedCall) => c.params[name] ?? null;

function envDetails(body: Body): Record<string, unknown> {
  const set = Object.keys(body).filter((k) => NAME.test(k) && body[k] !== null);
  const unset = Object.keys(body).filter((k) => NAME.test(k) && body[k] === null);
  return { set: set.slice(0, MAX_NAMES), unset: unset.slice(0, MAX_NAMES) };
}

function deploymentSource(body: unknown, c: AuditedCall): Record<string, unknown> {
  const fields = asObject(body);
  if ('git' in fields) {
    const git = asObject(fields.git);
    return compact({ source: 'git-url', url: safeUrl(git.url), ref: str(git.ref, 200) });
  }
  // An archive, or a body refused before it was read (too large, say): what the headers said it was.
  const commit = str(c.headers['x-gearshift-commit'], 64);
  return compact({
    source: c.headers['x-gearshift-source'] === 'git-push' ? 'git' : 'archive',
    commit: commit && /^[0-9a-f]{7,64}$/.test(commit) ? commit : undefined,
  });
}

/** Every changing route of the API, by method and pattern. */
const RULES: Record<string, Rule> = {
  'POST /auth/login': { action: 'session.login', target: (_, b) => str(b.username, 64) ?? null },
  'POST /auth/logout': { action: 'session.logout' },

  'POST /users': {
    action: 'user.create',
    target: (_, b) => str(b.username, 64) ?? null,
    details: (b) => compact({ admin: bool(b.admin) }),
  },
  'PATCH /users/:username': {
    action: (b) => (Object.keys(b).length === 1 && 'password' in b ? 'user.password' : 'user.update'),
    target: param('username'),
    details: (b) => compact({ disabled: bool(b.disabled), password: 'password' in b ? 'reset' : undefined }),
  },
  'DELETE /users/:username': { action: 'user.delete', target: param('username') },
  'PUT /users/me/password': { action: 'user.password' },

  'POST /tokens': {
    action: 'token.create',
    target: (_, b) => str(b.name, 64) ?? null,
    details: (b) => compact({ scopes: strings(b.scopes), expiresInDays: int(b.expiresInDays) }),
  },
  'DELETE /tokens/:id': { action: 'token.revoke', target: param('id') },

  'POST /teams': { action: 'team.create', target: (_, b) => str(b.name, 64) ?? null },
  'PATCH /teams/:team': { action: 'team.update', target: param('team'), details: (b) => ({ fields: keyNames(b) }) },
  'DELETE /teams/:team': { action: 'team.delete', target: param('team') },
  'POST /teams/:team/members': {
    action: 'team.member_add',
    target: param('team'),
    details: (b) => compact({ username: str(b.username, 64), role: str(b.role, 32) }),
  },
  'PUT /teams/:team/members/:username': {
    action: 'team.member_role',
    target: param('team'),
    details: (b, c) => compact({ username: c.params.username, role: str(b.role, 32) }),
  },
  'PATCH /teams/:team/members/:username': {
    action: 'team.member_role',
    target: param('team'),
    details: (b, c) => compact({ username: c.params.username, role: str(b.role, 32) }),
  },
  'PUT /teams/:team/quota': {
    action: 'team.quota',
    target: param('team'),
    details: (b) => compact({ maxGears: int(b.maxGears), maxMemoryMb: int(b.maxMemoryMb) }),
  },
  'DELETE /teams/:team/members/:username': {
    action: 'team.member_remove',
    target: param('team'),
    details: (_, c) => compact({ username: c.params.username }),
  },

  'POST /cartridges/reload': { action: 'cartridge.reload' },

  'POST /domains': {
    action: 'domain.create',
    target: (_, b) => str(b.name, 64) ?? null,
    details: (b) => compact({ team: str(b.team, 64) }),
  },
  'DELETE /domains/:domain': { action: 'domain.delete', target: param('domain') },

  'POST /domains/:domain/apps': {
    action: 'app.create',
    target: (c, b) => `${c.params.domain}/${str(b.name, 64) ?? ''}`,
    details: (b) =>
      compact({
        cartridges: strings(b.cartridges),
        scale: int(b.scale),
        size: str(b.size, 32),
        env: 'env' in b ? keyNames(b.env) : undefined,
      }),
  },
  'PATCH /domains/:domain/apps/:app': {
    action: 'app.update',
    details: (b) => compact({ fields: keyNames(b), env: 'env' in b ? keyNames(b.env) : undefined }),
  },
  'DELETE /domains/:domain/apps/:app': { action: 'app.delete' },
  'POST /domains/:domain/apps/:app/actions': {
    action: (b) => {
      const action = str(b.action, 32);
      return action && /^[a-z]+$/.test(action) ? `app.${action}` : 'app.action';
    },
  },
  'POST /domains/:domain/apps/:app/cartridges': { action: 'cartridge.add', details: (b) => compact({ cartridge: str(b.cartridge, 64) }) },
  'DELETE /domains/:domain/apps/:app/cartridges/:cartridge': {
    action: 'cartridge.remove',
    details: (_, c) => compact({ cartridge: c.params.cartridge }),
  },
  'POST /domains/:domain/apps/:app/cartridges/:cartridge/upgrade': {
    action: (b) => (b.confirm === true ? 'cartridge.upgrade.confirm' : b.abort === true ? 'cartridge.upgrade.abort' : 'cartridge.upgrade'),
    details: (b, c) => compact({ cartridge: c.params.cartridge, to: str(b.to, 64) }),
  },
  'PATCH /domains/:domain/apps/:app/env': {
    action: (b) => (Object.keys(b).length > 0 && Object.values(b).every((v) => v === null) ? 'env.unset' : 'env.set'),
    details: envDetails,
  },
  'DELETE /domains/:domain/apps/:app/env/:name': { action: 'env.unset', details: (_, c) => ({ unset: [c.params.name] }) },
  'PUT /domains/:domain/apps/:app/scale': {
    action: 'app.scale',
    details: (b) => compact({ cartridge: str(b.cartridge, 64), process: str(b.process, 64), replicas: int(b.replicas), min: int(b.min), max: int(b.max) }),
  },
  // The command, never the environment it ran with.
  'POST /domains/:domain/apps/:app/run': {
    action: 'app.run',
    details: (b) => compact({ command: commandWords(b.command), process: str(b.process, 64) }),
  },
  'POST /domains/:domain/apps/:app/exec': {
    action: 'app.exec',
    details: (b) => compact({ command: commandWords(b.command), gear: str(b.gear, 36), service: str(b.service, 64), process: str(b.process, 64) }),
  },
  'POST /domains/:domain/apps/:app/deployments': { action: 'deployment.create', details: (_, c) => deploymentSource(c.body, c) },
  'POST /domains/:domain/apps/:app/deployments/:ref/activate': {
    action: 'deployment.activate',
    details: (_, c) => compact({ deployment: c.params.ref }),
  },
  'POST /domains/:domain/apps/:app/aliases': {
    // An alias that comes with its certificate also sets the certificate served for it.
    action: (b) => ('certificate' in b || 'key' in b ? 'certificate.set' : 'alias.add'),
    details: (b) => compact({ host: str(b.host), certificate: 'certificate' in b ? true : undefined }),
  },
  'DELETE /domains/:domain/apps/:app/aliases/:host': { action: 'alias.remove', details: (_, c) => compact({ host: c.params.host }) },
  'PUT /domains/:domain/apps/:app/security': {
    action: 'app.security',
    details: (b) => compact({ runAsRoot: bool(b.runAsRoot), capabilities: strings(b.capabilities), readOnlyRootfs: bool(b.readOnlyRootfs) }),
  },
  'POST /domains/:domain/apps/:app/snapshots': { action: 'snapshot.create' },
  'POST /domains/:domain/apps/:app/snapshots/restore': { action: 'snapshot.restore' },
  // An app's data moved off a lost node, and its kept snapshot restored.
  'POST /domains/:domain/apps/:app/recover': { action: 'app.recover' },
  'POST /domains/:domain/apply': {
    action: 'apply',
    target: param('domain'),
    details: (_, c) =>
      compact({ dryRun: c.query.dryRun === 'true' ? true : undefined, source: c.headers['x-gearshift-source'] === 'git-push' ? 'git' : undefined }),
  },

  'POST /nodes/tokens': { action: 'node.token', details: (b) => compact({ ttlHours: int(b.ttlHours), uses: int(b.uses) }) },
  'DELETE /nodes/tokens/:id': { action: 'node.token_revoke', target: param('id') },
  'POST /nodes/register': { action: 'node.join', target: (_, b) => str(b.name, 64) ?? null },
  'POST /nodes/:id/drain': { action: 'node.drain', target: param('id') },
  'POST /nodes/:id/activate': { action: 'node.activate', target: param('id') },
  'PATCH /nodes/:id': {
    action: 'node.update',
    target: param('id'),
    details: (b) =>
      compact({
        zone: b.zone === null ? null : str(b.zone, 64),
        labels: b.labels && typeof b.labels === 'object' ? Object.keys(b.labels).slice(0, 32) : undefined,
      }),
  },
  'POST /nodes/:id/gc': {
    action: 'node.gc',
    target: param('id'),
    details: (_, c) => compact({ dryRun: c.query.dryRun === 'true' ? true : undefined }),
  },
  'DELETE /nodes/:id': { action: 'node.delete', target: param('id') },

  'POST /operations/:id/cancel': { action: 'operation.cancel', target: param('id') },
};

/**
 * Changing routes that are not a person's change and are left out of the log: a node handing the broker a snapshot
 * it was asked to take (the snapshot itself is recorded when it is asked for).
 */
export const UNAUDITED = new Set(['PUT /snapshots/:op']);

const VERBS: Record<string, string> = { POST: 'create', PUT: 'set', PATCH: 'update', DELETE: 'delete' };

/** The routes this module names, for a check that every changing route of the broker has a name. */
export const namedRoutes = (): string[] => Object.keys(RULES);

/**
 * Describes a changing call that was answered `status`; null for a read (GET, HEAD, OPTIONS) or a call left out on
 * purpose. A route without a rule still gets a name, from its first segment and its method (`widgets.create`), so
 * that nothing goes unrecorded.
 */
export function describeCall(c: AuditedCall, status: number): AuditDescription | null {
  const method = c.method.toUpperCase();
  if (!VERBS[method]) return null;
  const key = `${method} ${c.route}`;
  if (UNAUDITED.has(key)) return null;
  const rule = RULES[key];
  const body = asObject(c.body);
  const domain = c.params.domain ?? null;
  if (!rule) {
    const resource = c.route.split('/').find((s) => s && !s.startsWith(':')) ?? 'api';
    return { action: `${resource.replace(/s$/, '')}.${VERBS[method]}`, target: domain, domain, details: {} };
  }
  let action = typeof rule.action === 'string' ? rule.action : rule.action(body);
  if (action === 'session.login' && status >= 400) action = 'session.login_failed';
  const target = rule.target ? rule.target(c, body) : c.params.app ? app(c) : domain;
  const details = rule.details ? rule.details(body, c) : {};
  // A domain being created is named by the body; it is the event's domain as much as a path's would be.
  return withoutNul({ action, target, domain: domain ?? (action === 'domain.create' ? target : null), details });
}

/**
 * A refused body may hold NUL characters, which Postgres takes in neither text nor jsonb: they are dropped, so that
 * the refusal is still recorded.
 */
function withoutNul<T>(value: T): T {
  if (typeof value === 'string') return value.replaceAll('\0', '') as T;
  if (Array.isArray(value)) return value.map(withoutNul) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.replaceAll('\0', ''), withoutNul(v)])) as T;
  return value;
}
