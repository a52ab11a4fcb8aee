import { Injectable } from '@nestjs/common';
import { notFound } from '../common/errors';
import type { Domain } from '../domains/domain.entity';
import { DomainsService } from '../domains/domains.service';
import type { Action } from '../teams/policy';
import type { User } from '../users/user.entity';
import type { App } from './app.entity';
import { AppsRepository } from './apps.repository';

/** Finds an app by its domain and name, for a user whose role in the domain's team allows `action`. */
@Injectable()
export class AppAccess {
  constructor(
    private readonly domains: DomainsService,
    private readonly appsRepository: AppsRepository,
  ) {}

  async requireApp(user: User, domainName: string, appName: string, action: Action): Promise<{ domain: Domain; app: App }> {
    const domain = await this.domains.require(user, domainName, action);
    const app = await this.appsRepository.findByName(domain.id, appName);
    if (!app) throw notFound(`app "${appName}" in domain "${domainName}"`);
    return { domain, app };
  }
}
