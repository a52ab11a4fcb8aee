import { Injectable } from '@nestjs/common';
import { GearshiftError } from '../common/errors';
import type { User } from '../users/user.entity';
import { decide, leastRole, type Action, type Role } from './policy';
import { TeamsRepository } from './teams.repository';

/**
 * The one place that decides whether a user may take an action on something a team holds (see policy.ts). Someone
 * outside the team gets `hidden()` (a 404 naming the thing as asked for), a member without the role a 403 that names
 * the role needed.
 */
@Injectable()
export class TeamPolicy {
  constructor(private readonly teams: TeamsRepository) {}

  /** Whether the user may take `action`, without refusing anything: for what an answer shows (values to a developer). */
  async allows(user: User, teamId: string, action: Action): Promise<boolean> {
    return decide(user, await this.teams.roleOf(teamId, user.id), action) === 'allow';
  }

  /** Refuses what the user may not do; `known`: their role in the team, already read with what the team holds. */
  async require(user: User, teamId: string, action: Action, hidden: () => GearshiftError, known?: { role: Role | null }): Promise<Role | null> {
    const role = known ? known.role : await this.teams.roleOf(teamId, user.id);
    const decision = decide(user, role, action);
    if (decision === 'hide') throw hidden();
    if (decision === 'forbid') {
      const needed = leastRole(action);
      const team = await this.teams.findById(teamId);
      throw new GearshiftError(
        'forbidden',
        `this needs the role ${needed}${needed === 'owner' ? '' : ' or higher'} in team "${team?.name ?? teamId}"; you are ${role}`,
        [{ pointer: '', rule: 'role', message: `needs the role "${needed}"` }],
      );
    }
    return role;
  }
}
