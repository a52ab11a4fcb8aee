import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import type { EntityManager } from 'typeorm';
import { Alias } from './alias.entity';

@Injectable()
export class AliasesRepository {
  constructor(@InjectEntityManager() private readonly m: EntityManager) {}

  forApp(appId: string): Promise<Alias[]> {
    return this.m.find(Alias, { where: { appId }, order: { host: 'ASC' } });
  }

  all(): Promise<Alias[]> {
    return this.m.find(Alias, { order: { host: 'ASC' } });
  }

  /** The team of the domain whose app holds `host` as an alias, or null when no app does. */
  async holderOf(host: string): Promise<{ teamId: string } | null> {
    const row = await this.m
      .createQueryBuilder()
      .select('d.team_id', 'teamId')
      .from('aliases', 'a')
      .innerJoin('apps', 'p', 'p.id = a.app_id')
      .innerJoin('domains', 'd', 'd.id = p.domain_id')
      .where('a.host = :host', { host })
      .getRawOne<{ teamId: string }>();
    return row ?? null;
  }

  /** Inserts unless the host is taken; null means taken. */
  async create(alias: Pick<Alias, 'appId' | 'host' | 'certificate' | 'privateKey'>): Promise<Alias | null> {
    const res = await this.m.createQueryBuilder().insert().into(Alias).values(alias).orIgnore().returning('*').execute();
    return res.raw.length > 0 ? this.m.findOne(Alias, { where: { host: alias.host } }) : null;
  }

  async delete(appId: string, host: string): Promise<boolean> {
    const res = await this.m.delete(Alias, { appId, host });
    return (res.affected ?? 0) > 0;
  }
}
