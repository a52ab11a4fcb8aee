import type { User } from '../users/user.entity';

/** A domain whose events a user may read, from the time it was made: a name used before by someone else hides theirs. */
export interface VisibleDomain {
  name: string;
  since: Date;
}

/**
 * The domains whose events a user may read besides their own: those they can see. Declared here, answered by the
 * domains room (seams.module.ts); when domains belong to teams, this is where "their team's" is decided.
 */
export abstract class AuditDomains {
  abstract visibleTo(user: User): Promise<VisibleDomain[]>;
}
