import { Injectable } from '@nestjs/common';
import { descriptorEnv, parseDescriptor, type AppDescriptor } from '@gearshift/cartridges';
import { GearshiftError } from '../common/errors';
import { AppsRepository } from '../apps/apps.repository';
import { CatalogService } from '../cartridges/catalog.service';
import { DomainsService } from '../domains/domains.service';
import { AppsService } from '../apps/apps.service';
import { AliasesService } from '../routes/aliases.service';
import type { User } from '../users/user.entity';
import { planApply } from './plan';

/** `POST /domains/:domain/apply`: a gearshift.yml becomes a plan, and with no dryRun, one operation. */
@Injectable()
export class ApplyService {
  constructor(
    private readonly appsRepository: AppsRepository,
    private readonly catalog: CatalogService,
    private readonly domains: DomainsService,
    private readonly apps: AppsService,
    private readonly aliases: AliasesService,
  ) {}

  async apply(user: User, domainName: string, text: string, opts: { dryRun: boolean; allowDataLoss: boolean; wait?: number }) {
    const d: AppDescriptor = parseDescriptor(text);
    const domain = await this.domains.require(user, domainName);
    const app = await this.appsRepository.findByName(domain.id, d.name);
    const { items, refusals } = planApply(app ? await this.apps.stateOf(app) : null, d, this.catalog.cartridges);
    if (refusals.length > 0) throw new GearshiftError('rule_violation', refusals.map((r) => r.message).join('; '), refusals);
    const losses = items.filter((i) => i.loses);
    if (opts.dryRun) return { dryRun: true, app: d.name, plan: items, losesData: losses.length > 0 };
    if (items.length === 0) return { app: d.name, plan: [], operation: null, unchanged: true };
    if (losses.length > 0 && !opts.allowDataLoss) {
      throw new GearshiftError(
        'rule_violation',
        `applying would lose ${losses.map((l) => l.loses).join(' and ')}; apply again with allowDataLoss=true to go ahead`,
        losses.map((l) => ({ pointer: '/cartridges', rule: 'data-loss', message: `removing ${l.target.replace('cartridge ', '')} loses ${l.loses}` })),
      );
    }
    if (!app) {
      const created = await this.apps.create(
        user,
        domainName,
        {
          name: d.name,
          cartridges: [...d.cartridges],
          ...(d.scale ? { scale: d.scale } : {}),
          ...(d.size ? { size: d.size } : {}),
          env: descriptorEnv(d),
        },
        opts.wait,
      );
      const fresh = (await this.appsRepository.findByName(domain.id, d.name))!;
      if (d.autoscale) await this.appsRepository.update(fresh.id, { autoscaleMin: d.autoscale.min, autoscaleMax: d.autoscale.max, autoscaleTarget: d.autoscale.targetConcurrency ?? 10 });
      if (d.idleAfterSeconds) await this.appsRepository.update(fresh.id, { idleAfterSeconds: d.idleAfterSeconds });
      if (d.health) await this.appsRepository.update(fresh.id, { health: d.health });
      for (const host of d.aliases ?? []) await this.aliases.add(user, domainName, d.name, { host });
      return { app: d.name, plan: items, operation: 'operation' in created ? created.operation : null };
    }
    const result = await this.apps.applyDescriptor(user, domainName, app, d, items, opts.wait);
    return { app: d.name, plan: items, operation: 'operation' in result ? result.operation : null };
  }
}
