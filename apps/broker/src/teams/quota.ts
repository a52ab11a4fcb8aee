import { GearshiftError } from '../common/errors';
import type { Team } from './team.entity';
import type { TeamUsage, TeamsRepository } from './teams.repository';

/** Why adding `add` to a team's use would break its quota, or null when it fits. Pure, for the placement check. */
export function quotaRefusal(team: Pick<Team, 'name' | 'maxGears' | 'maxMemoryMb'>, use: TeamUsage, add: TeamUsage): GearshiftError | null {
  const over = (quota: string, limit: number | null, used: number, more: number, unit: string) =>
    limit !== null && more > 0 && used + more > limit
      ? new GearshiftError(
          'quota_exceeded',
          `team "${team.name}" would exceed its ${quota} quota: the limit is ${limit}${unit}, it uses ${used}${unit} and this needs ${more}${unit} more`,
          { quota, limit, use: used, requested: more },
        )
      : null;
  return over('maxGears', team.maxGears, use.gears, add.gears, '') ?? over('maxMemoryMb', team.maxMemoryMb, use.memoryMb, add.memoryMb, ' MB');
}

/**
 * Refuses gears a domain's team has no room for (422 `quota_exceeded`). Called inside the change's transaction, under
 * the placement lock, before its gears are written: a refusal rolls the whole change back.
 */
export async function checkQuota(teams: TeamsRepository, domainId: string, gearsMb: number[]): Promise<void> {
  if (gearsMb.length === 0) return;
  await checkTeamQuota(teams, await teams.ofDomain(domainId), gearsMb);
}

/**
 * checkQuota() for a team read before the placement lock was taken (its limits, not its use): only a team with a
 * limit costs a read under the lock.
 */
export async function checkTeamQuota(teams: TeamsRepository, team: Team | null, gearsMb: number[]): Promise<void> {
  if (gearsMb.length === 0) return;
  if (!team || (team.maxGears === null && team.maxMemoryMb === null)) return;
  const refusal = quotaRefusal(team, await teams.usage(team.id), { gears: gearsMb.length, memoryMb: gearsMb.reduce((a, b) => a + b, 0) });
  if (refusal) throw refusal;
}
