import { Inject, Injectable } from '@nestjs/common';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { conflict, GearshiftError, notFound } from '../common/errors';
import { UnitOfWork } from '../database/unit-of-work';
import { UsersRepository } from '../users/users.repository';
import type { User } from '../users/user.entity';
import type { Role } from './policy';
import type { Team } from './team.entity';
import { TeamPolicy } from './team-policy.service';
import { TeamsRepository } from './teams.repository';

const quotaOf = (t: Team) => ({ maxGears: t.maxGears, maxMemoryMb: t.maxMemoryMb });

/** Teams as their members see them: list, create, members and their roles; quotas as administrators set them. */
@Injectable()
export class TeamsService {
  constructor(
    private readonly teams: TeamsRepository,
    private readonly users: UsersRepository,
    private readonly policy: TeamPolicy,
    private readonly uow: UnitOfWork,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

  async list(user: User) {
    return (await this.teams.listFor(user.id, user.isAdmin)).map(({ team, role }) => ({
      name: team.name,
      role,
      personal: team.personalUserId !== null,
      createdAt: team.createdAt,
    }));
  }

  async create(user: User, name: string) {
    const team = await this.teams.create(name, user.id, { maxGears: this.config.teamMaxGears, maxMemoryMb: this.config.teamMaxMemoryMb });
    if (!team) throw conflict(`the team name "${name}" is taken`, [{ pointer: '/name', rule: 'unique', message: 'is taken' }]);
    return { name: team.name, role: 'owner' as const, personal: false, quota: quotaOf(team), createdAt: team.createdAt };
  }

  /** The team if the user may take `action` on it: outsiders get 404, members without the role 403. */
  async require(user: User, name: string, action: 'read' | 'own'): Promise<Team> {
    const team = await this.teams.findByName(name);
    const hidden = () => notFound(`team "${name}"`);
    if (!team) throw hidden();
    await this.policy.require(user, team.id, action, hidden);
    return team;
  }

  async get(user: User, name: string) {
    const team = await this.require(user, name, 'read');
    const [members, use, role] = await Promise.all([this.teams.members(team.id), this.teams.usage(team.id), this.teams.roleOf(team.id, user.id)]);
    return { name: team.name, role, personal: team.personalUserId !== null, members, quota: quotaOf(team), use, createdAt: team.createdAt };
  }

  /** Adds a member or changes a member's role; an owner cannot demote the team's last owner. */
  async setMember(user: User, name: string, username: string, role: Role) {
    const team = await this.require(user, name, 'own');
    const member = await this.findUser(username);
    await this.uow.run({ teams: TeamsRepository }, async ({ teams }) => {
      const current = await teams.roleOf(team.id, member.id);
      if (current === 'owner' && role !== 'owner' && (await teams.countOwnersForUpdate(team.id)) <= 1) throw this.lastOwner(username, name);
      await teams.setMember(team.id, member.id, role);
    });
    return this.get(user, name);
  }

  async removeMember(user: User, name: string, username: string): Promise<void> {
    const team = await this.require(user, name, 'own');
    const member = await this.findUser(username);
    await this.uow.run({ teams: TeamsRepository }, async ({ teams }) => {
      const current = await teams.roleOf(team.id, member.id);
      if (!current) throw notFound(`member "${username}" of team "${name}"`);
      if (current === 'owner' && (await teams.countOwnersForUpdate(team.id)) <= 1) throw this.lastOwner(username, name);
      await teams.removeMember(team.id, member.id);
    });
  }

  async setQuota(user: User, name: string, quota: { maxGears?: number | null; maxMemoryMb?: number | null }) {
    if (!user.isAdmin) {
      await this.require(user, name, 'read');
      throw new GearshiftError('forbidden', 'only an administrator can set a team quota');
    }
    const team = await this.require(user, name, 'own');
    await this.teams.setQuota(team.id, quota);
    return this.get(user, name);
  }

  private lastOwner(username: string, team: string) {
    return conflict(`"${username}" is the last owner of team "${team}"; make another member owner first`);
  }

  private async findUser(username: string): Promise<User> {
    const user = await this.users.findByName(username);
    if (!user) throw notFound(`the user "${username}"`);
    return user;
  }
}
