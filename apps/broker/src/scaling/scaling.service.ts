import { Injectable } from '@nestjs/common';
import { AppsRepository } from '../apps/apps.repository';
import type { App } from '../apps/app.entity';
import { AppBusyError, ChangeRunner, type ChangeRepos } from '../changes/change-runner';
import { AppGears } from '../lifecycle/app-gears.service';
import type { Operation } from '../operations/operation.entity';

/** The changes the platform decides on by itself: autoscaling, idling an unused app, and waking it on a request. */
@Injectable()
export class ScalingService {
  constructor(
    private readonly appsRepository: AppsRepository,
    private readonly changes: ChangeRunner,
    private readonly appGears: AppGears,
  ) {}

  /** Starts an operation the platform decided on, and sends it; answers nothing to anyone. */
  private async systemChange(app: App, kind: string, step: string, mutate: (repos: ChangeRepos, app: App) => Promise<string[] | void>): Promise<Operation> {
    const op = await this.changes.changeApp(app, null, kind, step, mutate);
    await this.changes.send(op);
    return op;
  }

  /** Autoscaling: `replicas` web gears, with the reason in the operation. */
  async autoscale(app: App, replicas: number, reason: string): Promise<Operation> {
    return this.systemChange(app, 'app.autoscale', `autoscale to ${replicas} gear(s): ${reason}`, (repos, a) => this.appGears.setReplicas(repos, a, replicas));
  }

  /**
   * Autoscaling of a web service: `replicas` gears of the release the app serves. The service stays autoscaled, within
   * the bounds it has; the time is noted for the cooldowns.
   */
  async autoscaleService(app: App, service: string, replicas: number, reason: string): Promise<Operation> {
    return this.systemChange(app, 'app.autoscale', `autoscale service ${service} to ${replicas} gear(s): ${reason}`, async (repos, a) => {
      const release = a.activeDeploymentId ? await repos.deployments.findById(a.activeDeploymentId) : null;
      const own = a.services?.[service];
      if (!release?.services?.[service] || !own?.autoscale) return;
      await this.appGears.setServiceReplicas(repos, a, service, replicas, release, { ...own, scale: replicas, lastScaledAt: Date.now() });
    });
  }

  /** Idling: web gears stop, services keep running, the router holds the next request. */
  async idle(app: App, reason: string): Promise<Operation> {
    return this.systemChange(app, 'app.idle', `idle: ${reason}`, async (repos, a) => {
      await repos.apps.update(a.id, { desiredState: 'idle', lastScaledAt: new Date() });
    });
  }

  /** A request arrived for an idle app. */
  async wake(appId: string, host: string): Promise<void> {
    const app = await this.appsRepository.findById(appId);
    if (!app || app.desiredState !== 'idle') return;
    await this.systemChange(app, 'app.wake', `wake: a request for ${host} arrived`, async (repos, a) => {
      await repos.apps.update(a.id, { desiredState: 'started', lastScaledAt: new Date() });
    }).catch((err: unknown) => {
      // Already being woken by another request: that is fine.
      if (!(err instanceof AppBusyError)) throw err;
    });
  }
}
