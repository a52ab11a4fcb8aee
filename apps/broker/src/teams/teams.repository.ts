import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import type { EntityManager } from 'typeorm';
import { Team, TeamMember } from './team.entity';
import type { Role } from './policy';

export interface TeamUsage {
  gears: number;
  memoryMb: number;
}

@Injectable()
export class TeamsRepository {
  constructor(@InjectEntityManager() private readonly m: EntityManager) {}

  findByName(name: string): Promise<Team | null> {
    return this.m.findOne(Team, { where: { name } });
  }

  findById(id: string): Promise<Team | null> {
    return this.m.findOne(Team, { where: { id } });
  }

  /** The team a user made with their account. */
  personalTeam(userId: string): Promise<Team | null> {
    return this.m.findOne(Team, { where: { personalUserId: userId } });
  }

  /** Teams with the user's role in each; every team (role null where the user is not in it) when `all`. */
  async listFor(userId: string, all: boolean): Promise<{ team: Team; role: Role | null }[]> {
    const rows: { id: string; role: Role | null }[] = await this.m.query(
      `select t.id, m.role from teams t left join team_members m on m.team_id = t.id and m.user_id = $1
        where $2 or m.user_id is not null order by t.name`,
      [userId, all],
    );
    const teams =
      rows.length > 0
        ? await this.m
            .createQueryBuilder(Team, 't')
            .where('t.id in (:...ids)', { ids: rows.map((r) => r.id) })
            .getMany()
        : [];
    const byId = new Map(teams.map((t) => [t.id, t]));
    return rows.map((r) => ({ team: byId.get(r.id)!, role: r.role }));
  }

  /** Ids of the teams the user is a member of. */
  async teamIdsOf(userId: string): Promise<string[]> {
    return (await this.m.find(TeamMember, { where: { userId } })).map((m) => m.teamId);
  }

  async roleOf(teamId: string, userId: string): Promise<Role | null> {
    return (await this.m.findOne(TeamMember, { where: { teamId, userId } }))?.role ?? null;
  }

  /** Makes a team with its first owner; null when the name is taken. */
  async create(name: string, ownerId: string, quota: Pick<Team, 'maxGears' | 'maxMemoryMb'>): Promise<Team | null> {
    return this.m.transaction(async (t) => {
      const rows: { id: string }[] = await t.query(
        'insert into teams (name, max_gears, max_memory_mb) values ($1, $2, $3) on conflict (name) do nothing returning id',
        [name, quota.maxGears, quota.maxMemoryMb],
      );
      if (rows.length === 0) return null;
      await t.insert(TeamMember, { teamId: rows[0].id, userId: ownerId, role: 'owner' });
      return t.findOneOrFail(Team, { where: { id: rows[0].id } });
    });
  }

  async members(teamId: string): Promise<{ username: string; role: Role; since: Date }[]> {
    const rows: { username: string; role: Role; created_at: Date }[] = await this.m.query(
      `select u.username, m.role, m.created_at from team_members m join users u on u.id = m.user_id where m.team_id = $1
        order by case m.role when 'owner' then 0 when 'developer' then 1 else 2 end, u.username`,
      [teamId],
    );
    return rows.map((r) => ({ username: r.username, role: r.role, since: r.created_at }));
  }

  /** Adds a member or changes their role. */
  async setMember(teamId: string, userId: string, role: Role): Promise<void> {
    await this.m.query(
      `insert into team_members (team_id, user_id, role) values ($1, $2, $3) on conflict (team_id, user_id) do update set role = excluded.role`,
      [teamId, userId, role],
    );
  }

  async removeMember(teamId: string, userId: string): Promise<void> {
    await this.m.delete(TeamMember, { teamId, userId });
  }

  /**
   * Locks the team's member rows and counts its owners, so that two changes at once cannot both take away the last
   * owner. Inside a transaction only.
   */
  async countOwnersForUpdate(teamId: string): Promise<number> {
    const rows: unknown[] = await this.m.query(`select 1 from team_members where team_id = $1 and role = 'owner' for update`, [teamId]);
    return rows.length;
  }

  async setQuota(teamId: string, quota: Partial<Pick<Team, 'maxGears' | 'maxMemoryMb'>>): Promise<void> {
    await this.m.update(Team, { id: teamId }, quota);
  }

  /** The team that holds a domain, with its quota. */
  async ofDomain(domainId: string): Promise<Team | null> {
    return this.m.createQueryBuilder(Team, 't').innerJoin('domains', 'd', 'd.team_id = t.id').where('d.id = :domainId', { domainId }).getOne();
  }

  /** The gears the team's apps hold now, and their memory. */
  async usage(teamId: string): Promise<TeamUsage> {
    const [row]: { gears: string; memory: string | null }[] = await this.m.query(
      `select count(g.id) as gears, sum(g.memory_mb) as memory from gears g
        join apps a on a.id = g.app_id join domains d on d.id = a.domain_id where d.team_id = $1`,
      [teamId],
    );
    return { gears: Number(row.gears), memoryMb: Number(row.memory ?? 0) };
  }
}
