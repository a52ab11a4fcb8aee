import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import { In, IsNull, Not, type EntityManager } from 'typeorm';
import { Alias } from './alias.entity';

@Injectable()
export class AliasesRepository {
  constructor(@InjectEntityManager() private readonly m: EntityManager) {}

  /** The app's aliases set through the API (its web services' own host names are apart: serviceHostsOf). */
  forApp(appId: string): Promise<Alias[]> {
    return this.m.find(Alias, { where: { appId, service: IsNull() }, order: { host: 'ASC' } });
  }

  all(): Promise<Alias[]> {
    return this.m.find(Alias, { order: { host: 'ASC' } });
  }

  /**
   * The team of the domain whose app holds `host` (as an alias, or as a host name of one of its web services), which
   * app, and which service; null when no app does.
   */
  async holderOf(host: string): Promise<{ teamId: string; appId: string; service: string | null } | null> {
    const row = await this.m
      .createQueryBuilder()
      .select('d.team_id', 'teamId')
      .addSelect('a.app_id', 'appId')
      .addSelect('a.service', 'service')
      .from('aliases', 'a')
      .innerJoin('apps', 'p', 'p.id = a.app_id')
      .innerJoin('domains', 'd', 'd.id = p.domain_id')
      .where('a.host = :host', { host })
      .getRawOne<{ teamId: string; appId: string; service: string | null }>();
    return row ?? null;
  }

  /** Inserts unless the host is taken; null means taken. */
  async create(alias: Pick<Alias, 'appId' | 'host' | 'certificate' | 'privateKey'>): Promise<Alias | null> {
    const res = await this.m.createQueryBuilder().insert().into(Alias).values(alias).orIgnore().returning('*').execute();
    return res.raw.length > 0 ? this.m.findOne(Alias, { where: { host: alias.host } }) : null;
  }

  /** Deletes an alias set through the API; a web service's host name goes with the service's own file. */
  async delete(appId: string, host: string): Promise<boolean> {
    const res = await this.m.delete(Alias, { appId, host, service: IsNull() });
    return (res.affected ?? 0) > 0;
  }

  /**
   * Gives the host name a web service of the app holds a certificate and key, or takes them away (null); null when the
   * app's services hold no such host.
   */
  async certifyServiceHost(appId: string, host: string, certificate: string | null, privateKey: string | null): Promise<Alias | null> {
    const alias = await this.m.findOne(Alias, { where: { appId, host, service: Not(IsNull()) } });
    if (!alias) return null;
    // Saved through the entity, so that the key is sealed as every alias's is.
    return this.m.save(Object.assign(alias, { certificate, privateKey }));
  }

  /** The host names the app's web services hold. */
  serviceHostsOf(appId: string): Promise<Alias[]> {
    return this.m.find(Alias, { where: { appId, service: Not(IsNull()) }, order: { host: 'ASC' } });
  }

  /**
   * Holds each host for the app's web service (`hosts`: host → service). A host the app holds already follows the
   * service it is now given; one another app took meanwhile is not inserted (the unique host). Returns the hosts
   * that could not be held.
   */
  async holdServiceHosts(appId: string, hosts: Map<string, string>): Promise<string[]> {
    const missed: string[] = [];
    for (const [host, service] of hosts) {
      await this.m.createQueryBuilder().insert().into(Alias).values({ appId, host, service, certificate: null, privateKey: null }).orIgnore().execute();
      const res = await this.m.update(Alias, { appId, host, service: Not(IsNull()) }, { service });
      if ((res.affected ?? 0) === 0) missed.push(host);
    }
    return missed;
  }

  /** Lets go of the app's service host names other than `kept`: a release that no longer names them serves. */
  async releaseServiceHosts(appId: string, kept: string[]): Promise<void> {
    await this.m.delete(Alias, { appId, service: Not(IsNull()), ...(kept.length > 0 ? { host: Not(In(kept)) } : {}) });
  }
}
