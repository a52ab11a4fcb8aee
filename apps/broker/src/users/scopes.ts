/**
 * What a token may do. `read` reads (GET); `deploy` reads and ships code (deployments, apply, git push), for CI;
 * `admin` does everything its user may. Login tokens carry `admin`.
 */
export const SCOPES = ['read', 'deploy', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** Each scope with the scopes it includes. */
const INCLUDES: Record<Scope, readonly Scope[]> = { read: ['read'], deploy: ['read', 'deploy'], admin: ['read', 'deploy', 'admin'] };

/** The scope a route needs: the one it declares, or `read` for a method that changes nothing and `admin` otherwise. */
export function neededScope(method: string, declared: Scope | undefined): Scope {
  if (declared) return declared;
  return ['GET', 'HEAD', 'OPTIONS'].includes(method.toUpperCase()) ? 'read' : 'admin';
}

export function grants(held: readonly string[], needed: Scope): boolean {
  return held.some((s) => (SCOPES as readonly string[]).includes(s) && INCLUDES[s as Scope].includes(needed));
}
