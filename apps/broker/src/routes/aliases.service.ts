import { Inject, Injectable } from '@nestjs/common';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { conflict, invalid, notFound, ruleViolation } from '../common/errors';
import { AliasesRepository } from './aliases.repository';
import { AppsRepository } from '../apps/apps.repository';
import { DomainsService } from '../domains/domains.service';
import type { User } from '../users/user.entity';
import type { Alias } from './alias.entity';
import { RoutesService } from './routes.service';

export interface AliasBody {
  host: string;
  certificate?: string;
  key?: string;
}

/** The certificate's facts, never its key. */
/** Names under the apps domain belong to the platform's own app URLs: no alias may take one. */
export function checkAliasHost(host: string, appsDomain: string, pointer: string): void {
  if (host === appsDomain || host.endsWith(`.${appsDomain}`)) {
    throw ruleViolation(pointer, 'reserved', `${host} is under ${appsDomain}, which belongs to the platform's own app URLs`);
  }
}

function present(a: Alias) {
  let certificate: { subject: string; validTo: string; fingerprint256: string } | null = null;
  if (a.certificate) {
    const x = new X509Certificate(a.certificate);
    certificate = { subject: x.subject, validTo: new Date(x.validTo).toISOString(), fingerprint256: x.fingerprint256 };
  }
  return { host: a.host, tls: certificate !== null, certificate, createdAt: a.createdAt };
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

  private async app(user: User, domainName: string, appName: string) {
    const domain = await this.domains.require(user, domainName);
    const app = await this.appsRepository.findByName(domain.id, appName);
    if (!app) throw notFound(`app "${appName}" in domain "${domainName}"`);
    return app;
  }

  async list(user: User, domainName: string, appName: string) {
    const app = await this.app(user, domainName, appName);
    return (await this.aliasesRepository.forApp(app.id)).map(present);
  }

  /** Checks that the key belongs to the certificate, that the certificate covers the host and is in date. */
  private checkTls(host: string, certificate?: string, key?: string): void {
    if (!certificate && !key) return;
    if (!certificate || !key) throw invalid(certificate ? '/key' : '/certificate', 'required', 'is required when the other half of the TLS pair is given');
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(certificate);
    } catch {
      throw invalid('/certificate', 'pem', 'is not a PEM certificate');
    }
    let privateKey;
    try {
      privateKey = createPrivateKey(key);
    } catch {
      throw invalid('/key', 'pem', 'is not a PEM private key (an encrypted key needs its passphrase removed)');
    }
    if (!x509.checkPrivateKey(privateKey)) throw ruleViolation('/key', 'key-matches', 'does not belong to the certificate');
    if (!x509.checkHost(host))
      throw ruleViolation(
        '/certificate',
        'covers-host',
        `does not cover ${host} (subject ${x509.subject.replace(/\n/g, ', ')}; alt names ${x509.subjectAltName ?? 'none'})`,
      );
    if (new Date(x509.validTo).getTime() < Date.now()) throw ruleViolation('/certificate', 'in-date', `expired on ${new Date(x509.validTo).toISOString()}`);
  }

  async add(user: User, domainName: string, appName: string, body: AliasBody) {
    const host = body.host.toLowerCase();
    checkAliasHost(host, this.config.appsDomain, '/host');
    this.checkTls(host, body.certificate, body.key);
    const app = await this.app(user, domainName, appName);
    const alias = await this.aliasesRepository.create({ appId: app.id, host, certificate: body.certificate ?? null, privateKey: body.key ?? null });
    if (!alias) throw conflict(`the host name ${host} is already an alias`, [{ pointer: '/host', rule: 'unique', message: 'is taken' }]);
    this.routes.schedule();
    return present(alias);
  }

  async remove(user: User, domainName: string, appName: string, host: string): Promise<void> {
    const app = await this.app(user, domainName, appName);
    if (!(await this.aliasesRepository.delete(app.id, host.toLowerCase()))) throw notFound(`alias ${host} of app "${appName}"`);
    this.routes.schedule();
  }
}
