import { Injectable } from '@nestjs/common';
import { conflict, notFound, type GearshiftError } from '../common/errors';
import { TeamPolicy } from '../teams/team-policy.service';
import { TeamsRepository } from '../teams/teams.repository';
import type { Action } from '../teams/policy';
import { DomainsRepository } from './domains.repository';
import { DomainApps } from './domain-apps';
import type { User } from '../users/user.entity';
import type { Domain } from './domain.entity';

@Injectable()
export class DomainsService {
  constructor(
    private readonly domainsRepository: DomainsRepository,
    private readonly domainApps: DomainApps,
    private readonly teams: TeamsRepository,
    private readonly policy: TeamPolicy,
  ) {}

  /** Domains of the caller's teams (every domain for an administrator). */
  async list(user: User) {
    const domains = await this.domainsRepository.list(user.isAdmin ? null : await this.teams.teamIdsOf(user.id));
    const names = await this.teamNames(domains);
    return domains.map((d) => this.present(d, names));
  }

  /** A domain in `teamName` (default: the caller's personal team), for an owner or developer of that team. */
  async create(user: User, name: string, teamName?: string) {
    const team = teamName ? await this.teams.findByName(teamName) : await this.teams.personalTeam(user.id);
    const hidden = () => notFound(`team "${teamName ?? user.username}"`);
    if (!team) throw hidden();
    await this.policy.require(user, team.id, 'develop', hidden);
    const domain = await this.domainsRepository.create(name, user.id, team.id);
    if (!domain) throw conflict(`the domain name "${name}" is taken`, [{ pointer: '/name', rule: 'unique', message: 'is taken' }]);
    return this.present(domain, new Map([[team.id, team.name]]));
  }

  /**
   * The domain if the user may take `action` on it (see teams/policy.ts): this is where every route on a domain, its
   * apps and their operations is decided. Someone outside the domain's team is told it was not found, never that it
   * is forbidden; a member without the role gets 403 naming the role.
   */
  async require(user: User, name: string, action: Action): Promise<Domain> {
    const found = await this.domainsRepository.findByNameFor(name, user.id);
    const hidden = () => notFound(`domain "${name}"`);
    if (!found) throw hidden();
    await this.policy.require(user, found.domain.teamId, action, hidden, { role: found.role });
    return found.domain;
  }

  /** Whether the user may take `action` on a domain they may already see. */
  allows(user: User, domain: Domain, action: Action): Promise<boolean> {
    return this.policy.allows(user, domain.teamId, action);
  }

  /** As require(), for a domain known by id (an operation's), answering `hidden()` for what the user may not see. */
  async requireById(user: User, id: string, action: Action, hidden: () => GearshiftError): Promise<Domain> {
    const domain = await this.domainsRepository.findById(id);
    if (!domain) throw hidden();
    await this.policy.require(user, domain.teamId, action, hidden);
    return domain;
  }

  async get(user: User, name: string) {
    const domain = await this.require(user, name, 'read');
    return this.present(domain, await this.teamNames([domain]));
  }

  async delete(user: User, name: string): Promise<void> {
    const domain = await this.require(user, name, 'own');
    const apps = await this.domainApps.countInDomain(domain.id);
    if (apps > 0) throw conflict(`domain "${name}" still has ${apps} app(s); delete them first`);
    await this.domainsRepository.delete(domain.id);
  }

  private present(d: Domain, teamNames: Map<string, string>) {
    return { name: d.name, team: teamNames.get(d.teamId) ?? null, createdAt: d.createdAt };
  }

  private async teamNames(domains: Domain[]): Promise<Map<string, string>> {
    const ids = [...new Set(domains.map((d) => d.teamId))];
    const teams = await Promise.all(ids.map((id) => this.teams.findById(id)));
    return new Map(teams.filter((t) => t !== null).map((t) => [t.id, t.name]));
  }
}
