import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { Leadership } from '../leadership/leadership.service';
import { GearshiftError } from '../common/errors';
import type { AppTraffic } from '@gearshift/cartridges';
import { AppsRepository } from '../apps/apps.repository';
import { DeploymentsRepository } from '../apps/deployments.repository';
import type { App } from '../apps/app.entity';
import { OperationsRepository } from '../operations/operations.repository';
import { ScalingService } from './scaling.service';
import { CatalogService } from '../cartridges/catalog.service';
import { RoutesService } from '../routes/routes.service';
import { decide } from './decide';
import { serviceScaling } from './service-autoscale';

/** Traffic older than this says nothing about now (the router that wrote it may be gone). */
const STALE_MS = 10_000;

/**
 * Every few seconds, compares each autoscaled or idling app's traffic (as the routers measure it) with its policy,
 * and starts an operation, with its reason, when the app should grow, shrink or idle; and the same for each
 * autoscaled web service, by the traffic of its own host names (or the app's, for the one that answers there). On the
 * leading broker only: two brokers deciding at once would both scale the same app.
 */
@Injectable()
export class AutoscalerService implements OnApplicationBootstrap {
  private readonly logger = new Logger('autoscaler');
  private ticking = false;

  constructor(
    private readonly appsRepository: AppsRepository,
    private readonly deploymentsRepository: DeploymentsRepository,
    private readonly operationsRepository: OperationsRepository,
    private readonly scaling: ScalingService,
    private readonly routes: RoutesService,
    private readonly catalog: CatalogService,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    private readonly leadership: Leadership,
  ) {}

  onApplicationBootstrap(): void {
    this.leadership.whileLeader('autoscaler', () => {
      const timer = setInterval(() => {
        this.tick().catch((err: Error) => this.logger.warn(`autoscaling pass failed: ${err.message}`));
      }, this.config.autoscaleIntervalMs);
      return () => clearInterval(timer);
    });
  }

  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const apps = await this.appsRepository.managedByTraffic();
      if (apps.length === 0) return;
      const withServices = apps.some((a) => Object.values(a.services ?? {}).some((s) => s.autoscale));
      const [traffic, serviceTraffic, busy] = await Promise.all([
        this.routes.traffic(),
        withServices ? this.routes.serviceTraffic() : new Map<string, AppTraffic>(),
        this.operationsRepository.appsWithActiveOperations(),
      ]);
      const now = Date.now();
      for (const app of apps) {
        if (busy.has(app.id) || app.desiredState !== 'started') continue;
        // One change an app at a time: its web gears first, then its web services.
        if (await this.tickApp(app, traffic, now)) continue;
        await this.tickServices(app, traffic, serviceTraffic, now);
      }
    } catch (err) {
      this.logger.warn(`autoscaling pass failed: ${(err as Error).message}`);
    } finally {
      this.ticking = false;
    }
  }

  /** Grows, shrinks or idles the app's web gears when it should; says whether it started an operation. */
  private async tickApp(app: App, traffic: Map<string, AppTraffic>, now: number): Promise<boolean> {
    const web = this.catalog.webOf((app.cartridges ?? []).map((c) => c.cartridge));
    if (!web || (!app.autoscaleMax && !app.idleAfterSeconds)) return false;
    const t = traffic.get(app.id);
    const decision = decide({
      replicas: (app.gears ?? []).filter((g) => g.cartridge === web.manifest.name && !g.process && !g.service).length,
      policy: app.autoscaleMax
        ? {
            min: app.autoscaleMin ?? 1,
            max: app.autoscaleMax,
            target: app.autoscaleTarget ?? 10,
            upCooldownMs: this.config.scaleUpCooldownMs,
            downCooldownMs: this.config.scaleDownCooldownMs,
          }
        : null,
      idleAfterMs: app.idleAfterSeconds ? app.idleAfterSeconds * 1000 : null,
      traffic: t && now - t.at < STALE_MS ? t : undefined,
      stale: t !== undefined && now - t.at >= STALE_MS,
      lastChangeAt: Math.max(app.lastScaledAt?.getTime() ?? 0, app.createdAt.getTime()),
      now,
    });
    if (!decision) return false;
    this.logger.log(`${app.name}: ${decision.kind === 'scale' ? `scale to ${decision.replicas}` : 'idle'} (${decision.reason})`);
    if (decision.kind === 'scale') {
      await this.withinQuota(app, () => this.scaling.autoscale(app, decision.replicas, decision.reason));
    } else await this.scaling.idle(app, decision.reason);
    return true;
  }

  /** Grows or shrinks one of the app's autoscaled web services when it should, by its own traffic. */
  private async tickServices(app: App, traffic: Map<string, AppTraffic>, serviceTraffic: Map<string, AppTraffic>, now: number): Promise<void> {
    if (!Object.values(app.services ?? {}).some((s) => s.autoscale) || !app.activeDeploymentId) return;
    const release = await this.deploymentsRepository.findById(app.activeDeploymentId);
    const scaling = serviceScaling({
      appId: app.id,
      createdAt: app.createdAt.getTime(),
      webCartridge: Boolean(this.catalog.webOf((app.cartridges ?? []).map((c) => c.cartridge))),
      gears: app.gears ?? [],
      services: app.services ?? {},
      release: release?.services ?? {},
      appTraffic: traffic,
      serviceTraffic,
      upCooldownMs: this.config.scaleUpCooldownMs,
      downCooldownMs: this.config.scaleDownCooldownMs,
      staleMs: STALE_MS,
      now,
    });
    if (!scaling) return;
    this.logger.log(`${app.name}: scale service ${scaling.service} to ${scaling.replicas} (${scaling.reason})`);
    await this.withinQuota(app, () => this.scaling.autoscaleService(app, scaling.service, scaling.replicas, scaling.reason));
  }

  /** A team at its quota, or nodes without room for more, keep the gears the app has; the pass goes on to the others. */
  private async withinQuota(app: App, scale: () => Promise<unknown>): Promise<void> {
    await scale().catch((err: unknown) => {
      if (!(err instanceof GearshiftError && (err.code === 'quota_exceeded' || err.code === 'capacity_exceeded'))) throw err;
      this.logger.warn(`${app.name}: not scaled: ${err.message}`);
    });
  }
}
