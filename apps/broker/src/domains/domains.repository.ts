import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import { In, type EntityManager } from 'typeorm';
import { Domain } from './domain.entity';

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

  /** Inserts unless the name is taken; null means taken. */
  async create(name: string, ownerId: string, teamId: string): Promise<Domain | null> {
    const result = await this.m.createQueryBuilder().insert().into(Domain).values({ name, ownerId, teamId }).orIgnore().returning('*').execute();
    return result.raw.length > 0 ? this.findByName(name) : null;
  }

  async delete(id: string): Promise<void> {
    await this.m.delete(Domain, { id });
  }
}
