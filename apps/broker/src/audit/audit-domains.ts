import type { User } from '../users/user.entity';

/**
 * The domains whose events a user may read besides their own: those they can see. Declared here, answered by the
 * domains room (seams.module.ts); when domains belong to teams, this is where "their team's" is decided.
 */
export abstract class AuditDomains {
  abstract visibleTo(user: User): Promise<string[]>;
}
