/**
 * Who may do what to a team's domains and apps: one table, read by TeamPolicy for every route that takes a domain,
 * an app or an operation, and by the git backend. Token scopes apply on top of it (see users/scopes.ts).
 */
export const ROLES = ['owner', 'developer', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/**
 * `read`: see domains, apps, gears, logs, env names, deployments, operations, aliases and snapshots.
 * `develop`: change apps (create, delete, deploy, env, scale, aliases, snapshots, apply, activate, cancel).
 * `own`: the team itself (members) and deleting its domains.
 */
export const ACTIONS = ['read', 'develop', 'own'] as const;
export type Action = (typeof ACTIONS)[number];

/** Each action with the roles allowed to take it. */
export const POLICY: Record<Action, readonly Role[]> = {
  read: ['owner', 'developer', 'viewer'],
  develop: ['owner', 'developer'],
  own: ['owner'],
};

export const isRole = (value: string): value is Role => (ROLES as readonly string[]).includes(value);

/** The least role that may take `action`: what a refusal names. */
export function leastRole(action: Action): Role {
  return [...ROLES].reverse().find((r) => POLICY[action].includes(r))!;
}

/**
 * What a caller gets: `allow`; `hide` for someone outside the team (answered 404, so that names never leak); `forbid`
 * for a member whose role is not enough (answered 403, naming the role). Administrators pass.
 */
export function decide(caller: { isAdmin: boolean }, role: Role | null, action: Action): 'allow' | 'hide' | 'forbid' {
  if (caller.isAdmin) return 'allow';
  if (!role) return 'hide';
  return POLICY[action].includes(role) ? 'allow' : 'forbid';
}
