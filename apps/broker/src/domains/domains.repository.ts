import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import type { EntityManager } from 'typeorm';
import { Domain } from './domain.entity';

@Injectable()
export class DomainsRepository {
  constructor(@InjectEntityManager() private readonly m: EntityManager) {}

  list(ownerId: string | null): Promise<Domain[]> {
    return this.m.find(Domain, { where: ownerId ? { ownerId } : {}, order: { name: 'ASC' } });
  }

  findById(id: string): Promise<Domain | null> {
    return this.m.findOne(Domain, { where: { id } });
  }

  findByName(name: string): Promise<Domain | null> {
    return this.m.findOne(Domain, { where: { name } });
  }

  /** Inserts unless the name is taken; null means taken. */
  async create(name: string, ownerId: string): Promise<Domain | null> {
    const result = await this.m.createQueryBuilder().insert().into(Domain).values({ name, ownerId }).orIgnore().returning('*').execute();
    return result.raw.length > 0 ? this.findByName(name) : null;
  }

  async delete(id: string): Promise<void> {
    await this.m.delete(Domain, { id });
  }
}
