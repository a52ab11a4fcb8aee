import { Injectable } from '@nestjs/common';
import { conflict, notFound } from '../common/errors';
import { DomainsRepository } from './domains.repository';
import { DomainApps } from './domain-apps';
import type { User } from '../users/user.entity';
import type { Domain } from './domain.entity';

export const presentDomain = (d: Domain) => ({ name: d.name, createdAt: d.createdAt });

@Injectable()
export class DomainsService {
  constructor(
    private readonly domainsRepository: DomainsRepository,
    private readonly domainApps: DomainApps,
  ) {}

  async list(user: User) {
    return (await this.domainsRepository.list(user.isAdmin ? null : user.id)).map(presentDomain);
  }

  async create(user: User, name: string) {
    const domain = await this.domainsRepository.create(name, user.id);
    if (!domain) throw conflict(`the domain name "${name}" is taken`, [{ pointer: '/name', rule: 'unique', message: 'is taken' }]);
    return presentDomain(domain);
  }

  /** The domain if the user may see it; someone else's domain is reported as not found, never as forbidden. */
  async require(user: User, name: string): Promise<Domain> {
    const domain = await this.domainsRepository.findByName(name);
    if (!domain || (domain.ownerId !== user.id && !user.isAdmin)) throw notFound(`domain "${name}"`);
    return domain;
  }

  async get(user: User, name: string) {
    return presentDomain(await this.require(user, name));
  }

  async delete(user: User, name: string): Promise<void> {
    const domain = await this.require(user, name);
    const apps = await this.domainApps.countInDomain(domain.id);
    if (apps > 0) throw conflict(`domain "${name}" still has ${apps} app(s); delete them first`);
    await this.domainsRepository.delete(domain.id);
  }
}
