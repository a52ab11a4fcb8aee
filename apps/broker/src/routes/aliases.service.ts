import { Inject, Injectable } from '@nestjs/common';
import { X509Certificate } from 'node:crypto';
import { haproxyRefusal, onPath, tlsPairProblem } from '@gearshift/cartridges';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { conflict, invalid, notFound, ruleViolation } from '../common/errors';
import { AliasesRepository } from './aliases.repository';
import { AppsRepository } from '../apps/apps.repository';
import { DomainsService } from '../domains/domains.service';
import type { Action } from '../teams/policy';
import type { User } from '../users/user.entity';
import type { Alias } from './alias.entity';
import { RoutesService } from './routes.service';
import { aliasHostRefusal } from './alias-host';

export interface AliasBody {
  host: string;
  certificate?: string;
  key?: string;
}

/**
 * The rules of an alias host name that need no database: a DNS name, not an address nor loopback, outside the apps
 * domain. Throws the API error for the first one broken.
 */
export function checkAliasHost(host: string, appsDomain: string, pointer: string): void {
  const refusal = aliasHostRefusal(host, appsDomain);
  if (!refusal) return;
  throw refusal.kind === 'invalid' ? invalid(pointer, refusal.rule, refusal.message) : ruleViolation(pointer, refusal.rule, refusal.message);
}

/** First claim wins: a host name another team's app already answers to is theirs (`holder`: which team holds it, if any). */
export function checkAliasHolder(host: string, holder: { teamId: string } | null, teamId: string, pointer: string): void {
  if (holder && holder.teamId !== teamId) {
    throw ruleViolation(pointer, 'owned', `${host} is already held by another team's app; a host name belongs to whoever claimed it first`);
  }
}

/** The certificate's facts, never its key; a web service's host name says which service it routes to. */
function present(a: Alias) {
  let certificate: { subject: string; validTo: string; fingerprint256: string } | null = null;
  if (a.certificate) {
    const x = new X509Certificate(a.certificate);
    certificate = { subject: x.subject, validTo: new Date(x.validTo).toISOString(), fingerprint256: x.fingerprint256 };
  }
  return { host: a.host, ...(a.service ? { service: a.service } : {}), tls: certificate !== null, certificate, createdAt: a.createdAt };
}

@Injectable()
export class AliasesService {
  constructor(
    private readonly aliasesRepository: AliasesRepository,
    private readonly appsRepository: AppsRepository,
    private readonly domains: DomainsService,
    private readonly routes: RoutesService,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

  private async app(user: User, domainName: string, appName: string, action: Action) {
    return (await this.appIn(user, domainName, appName, action)).app;
  }

  private async appIn(user: User, domainName: string, appName: string, action: Action) {
    const domain = await this.domains.require(user, domainName, action);
    const app = await this.appsRepository.findByName(domain.id, appName);
    if (!app) throw notFound(`app "${appName}" in domain "${domainName}"`);
    return { app, domain };
  }

  async list(user: User, domainName: string, appName: string) {
    const app = await this.app(user, domainName, appName, 'read');
    return (await this.aliasesRepository.forApp(app.id)).map(present);
  }

  /**
   * Checks a TLS pair before it is stored: readable, a strong key that belongs to the certificate, a certificate in
   * date that covers the host, and, where HAProxy is installed beside the broker, one HAProxy loads. A pair the
   * router could not load is refused here rather than found out there.
   */
  private async checkTls(host: string, certificate?: string, key?: string): Promise<void> {
    if (!certificate && !key) return;
    const problem = tlsPairProblem(host, certificate, key);
    if (problem)
      throw problem.kind === 'invalid'
        ? invalid(problem.pointer, problem.rule, problem.message)
        : ruleViolation(problem.pointer, problem.rule, problem.message);
    const haproxy = onPath('haproxy');
    if (!haproxy) return;
    const refusal = await haproxyRefusal(haproxy, `${certificate!.trim()}\n${key!.trim()}\n`);
    if (refusal) throw ruleViolation('/certificate', 'haproxy-accepts', `is refused by HAProxy: ${refusal}`);
  }

  async add(user: User, domainName: string, appName: string, body: AliasBody) {
    const host = body.host.toLowerCase();
    checkAliasHost(host, this.config.appsDomain, '/host');
    const { app, domain } = await this.appIn(user, domainName, appName, 'develop');
    const holder = await this.aliasesRepository.holderOf(host);
    checkAliasHolder(host, holder, domain.teamId, '/host');
    await this.checkTls(host, body.certificate, body.key);
    // A host name of one of the app's web services (its gearshift.yml holds it) takes a certificate as an alias does.
    if (holder?.appId === app.id && holder.service) {
      if (!body.certificate)
        throw conflict(`the host name ${host} is a host name of web service ${holder.service}; give a certificate and key to serve it over HTTPS`, [
          { pointer: '/host', rule: 'unique', message: `is a host name of web service ${holder.service}` },
        ]);
      const certified = await this.aliasesRepository.certifyServiceHost(app.id, host, body.certificate, body.key!);
      if (!certified) throw notFound(`host name ${host} of app "${appName}"`);
      this.routes.schedule();
      return present(certified);
    }
    const alias = await this.aliasesRepository.create({ appId: app.id, host, certificate: body.certificate ?? null, privateKey: body.key ?? null });
    if (!alias) throw conflict(`the host name ${host} is already an alias`, [{ pointer: '/host', rule: 'unique', message: 'is taken' }]);
    this.routes.schedule();
    return present(alias);
  }

  async remove(user: User, domainName: string, appName: string, host: string): Promise<void> {
    const app = await this.app(user, domainName, appName, 'develop');
    if (!(await this.aliasesRepository.delete(app.id, host.toLowerCase()))) {
      const held = (await this.aliasesRepository.serviceHostsOf(app.id)).find((a) => a.host === host.toLowerCase());
      if (held)
        throw ruleViolation(
          '/host',
          'service-host',
          `${held.host} is a host name of web service ${held.service}; remove it from the service's hosts in gearshift.yml and push`,
        );
      throw notFound(`alias ${host} of app "${appName}"`);
    }
    this.routes.schedule();
  }
}
