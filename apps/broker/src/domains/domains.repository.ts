import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import { In, type EntityManager } from 'typeorm';
import { Domain } from './domain.entity';
import { TeamMember } from '../teams/team.entity';
import type { Role } from '../teams/policy';

@Injectable()
export class DomainsRepository {
  constructor(@InjectEntityManager() private readonly m: EntityManager) {}

  /** Domains of these teams, or every domain for null. */
  list(teamIds: string[] | null): Promise<Domain[]> {
    return this.m.find(Domain, { where: teamIds ? { teamId: In(teamIds) } : {}, order: { name: 'ASC' } });
  }

  findById(id: string): Promise<Domain | null> {
    return this.m.findOne(Domain, { where: { id } });
  }

  findByName(name: string): Promise<Domain | null> {
    return this.m.findOne(Domain, { where: { name } });
  }

  /**
   * A domain with the role `userId` holds in its team (null: not a member), in one read: nearly every request names
   * a domain, and asking for the role after the domain made each wait for a second round trip.
   */
  async findByNameFor(name: string, userId: string): Promise<{ domain: Domain; role: Role | null } | null> {
    const { entities, raw } = await this.m
      .createQueryBuilder(Domain, 'd')
      .leftJoin(TeamMember, 'm', 'm.team_id = d.team_id and m.user_id = :userId', { userId })
      .addSelect('m.role', 'member_role')
      .where('d.name = :name', { name })
      .getRawAndEntities<{ member_role: Role | null }>();
    return entities[0] ? { domain: entities[0], role: raw[0]?.member_role ?? null } : null;
  }

  /** Inserts unless the name is taken; null means taken. */
  async create(name: string, ownerId: string, teamId: string): Promise<Domain | null> {
    const result = await this.m.createQueryBuilder().insert().into(Domain).values({ name, ownerId, teamId }).orIgnore().returning('*').execute();
    return result.raw.length > 0 ? this.findByName(name) : null;
  }

  async delete(id: string): Promise<void> {
    await this.m.delete(Domain, { id });
  }
}
