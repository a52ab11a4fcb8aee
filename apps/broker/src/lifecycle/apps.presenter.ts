import { Inject, Injectable } from '@nestjs/common';
import { failureHeadline } from '../apps/deployment-failure';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { CatalogService } from '../cartridges/catalog.service';
import type { App } from '../apps/app.entity';
import type { ReleaseService } from '../apps/deployment.entity';
import { DeploymentsRepository } from '../apps/deployments.repository';
import { publishedVars, type AppShape } from '../apps/gear-specs';
import { publishedWarnings, shapeCartridges } from '../apps/gear-specs.service';
import type { Domain } from '../domains/domain.entity';
import type { Node } from '../fleet/node.entity';
import { NodesRepository } from '../fleet/nodes.repository';
import type { Operation } from '../operations/operation.entity';
import { presentOperation } from '../operations/operations.service';

/** Shown instead of a secret value that was not asked to be revealed. */
export const SECRET_MASK = '********';

/** The names of an app's variables, for whoever may read the app but not change it (a viewer). */
const namesOnly = (env: Record<string, string>) => Object.fromEntries(Object.keys(env).map((k) => [k, SECRET_MASK]));

/**
 * Derived from the gears: what a person wants to know at a glance. A database an upgrade keeps is stopped on
 * purpose: an app that serves from its successor is `upgraded` (running, with an upgrade to confirm or abort).
 */
export function statusOf(app: Pick<App, 'desiredState' | 'degraded' | 'gears' | 'cartridges'>): string {
  if (app.desiredState === 'deleting') return 'deleting';
  if (app.desiredState === 'idle') return 'idle';
  if (app.degraded) return 'degraded';
  const kept = new Set((app.cartridges ?? []).filter((c) => c.supersededBy).map((c) => c.cartridge));
  const states = (app.gears ?? []).filter((g) => !kept.has(g.cartridge)).map((g) => g.state);
  if (states.length === 0) return app.desiredState;
  if (app.desiredState === 'stopped') return states.every((s) => s === 'stopped' || s === 'missing') ? 'stopped' : 'stopping';
  if (states.every((s) => s === 'running')) return kept.size > 0 ? 'upgraded' : 'running';
  if (states.some((s) => s === 'failed')) return 'failed';
  return 'starting';
}

/** The nodes an app's gears run on. */
type GearNodes = Pick<Node, 'id' | 'name' | 'address'>[];

/** How the API shows an app: its gears with their nodes, endpoints and releases, and its environment. */
@Injectable()
export class AppsPresenter {
  constructor(
    private readonly deploymentsRepository: DeploymentsRepository,
    private readonly nodesRepository: NodesRepository,
    private readonly catalog: CatalogService,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

  /**
   * Why a stopped app is stopped: an app stops by itself only when its first deployment fails (it has no release to
   * serve), else it was stopped on request.
   */
  private async stoppedBecause(app: App): Promise<string> {
    const [latest] = app.activeDeploymentId ? [] : await this.deploymentsRepository.forApp(app.id, 1);
    if (latest?.state === 'failed')
      return `its first deployment (#${latest.number}) failed: ${failureHeadline(latest.error)}; it starts once a deployment works`;
    return 'on request (gearshift apps start starts it)';
  }

  /** The nodes the app's gears run on, by name and address: what present() says of them. */
  nodesOf(app: App): Promise<GearNodes> {
    return this.nodesRepository.namesOf([...new Set((app.gears ?? []).map((g) => g.nodeId))]);
  }

  /**
   * `envValues` false shows the names of the user's variables only (to a viewer). `gearNodes`: nodesOf(app), when the
   * caller read it already.
   */
  async present(app: App, domain: Domain, op?: Operation, envValues = true, gearNodes?: GearNodes) {
    const named = gearNodes ?? (await this.nodesOf(app));
    const nodes = new Map(named.map((n) => [n.id, n.name]));
    const addresses = new Map(named.map((n) => [n.id, n.address]));
    const web = this.catalog.webOf((app.cartridges ?? []).map((c) => c.cartridge));
    const releaseIds = [...new Set([app.activeDeploymentId, ...(app.gears ?? []).map((g) => g.deploymentId)].filter((id): id is string => Boolean(id)))];
    const found = await this.deploymentsRepository.findByIds(releaseIds);
    const releases = new Map(found.map((d) => [d.id, d.number]));
    const serviceDefs = new Map(found.map((d) => [d.id, d.services ?? {}]));
    return {
      name: app.name,
      domain: domain.name,
      url: `http://${app.name}-${domain.name}.${this.config.appsDomain}:${this.config.routerPort}`,
      state: app.desiredState,
      status: statusOf(app),
      // Why the app cannot fully run (its data was on a lost node), and what brings it back; null: nothing is wrong.
      degraded: app.degraded ?? null,
      ...(app.desiredState === 'stopped' ? { stoppedBecause: await this.stoppedBecause(app) } : {}),
      size: app.size,
      scale: (app.gears ?? []).filter((g) => g.cartridge === web?.manifest.name && !g.process && !g.service).length,
      // Gears of each Procfile process type other than web (workers).
      processes: (app.gears ?? []).reduce<Record<string, number>>((n, g) => (g.process ? { ...n, [g.process]: (n[g.process] ?? 0) + 1 } : n), {}),
      cartridges: (app.cartridges ?? []).map((c) => c.cartridge).sort(),
      // Its named services: their kind, the release their gears run, and how many gears each runs.
      services: presentServices(app, releases, serviceDefs),
      // What an upgrade replaced and keeps (stopped, its volume intact) until it is confirmed or aborted.
      ...((app.cartridges ?? []).some((c) => c.supersededBy)
        ? { kept: (app.cartridges ?? []).filter((c) => c.supersededBy).map((c) => ({ cartridge: c.cartridge, upgradedTo: c.supersededBy })) }
        : {}),
      autoscale: app.autoscaleMax ? { min: app.autoscaleMin, max: app.autoscaleMax, targetConcurrency: app.autoscaleTarget } : null,
      idleAfterSeconds: app.idleAfterSeconds,
      health: app.health,
      // What the owner should know, when there is something: a variable two cartridges publish, and whose value is given.
      ...(() => {
        const warnings = publishedWarnings(app, domain.name, this.catalog.cartridges);
        return warnings.length > 0 ? { warnings } : {};
      })(),
      // What an administrator allowed its docker-image gears; null: the restricted default.
      security: app.securityOverride ?? null,
      env: envValues ? app.env : namesOnly(app.env),
      release: app.activeDeploymentId ? (releases.get(app.activeDeploymentId) ?? null) : null,
      gears: (app.gears ?? [])
        .sort((a, b) => a.cartridge.localeCompare(b.cartridge) || a.createdAt.getTime() - b.createdAt.getTime())
        .map((g) => ({
          id: g.id,
          cartridge: g.cartridge,
          ...(g.process ? { process: g.process } : {}),
          ...(g.service ? { service: g.service } : {}),
          node: nodes.get(g.nodeId) ?? g.nodeId,
          state: g.state,
          release: g.deploymentId ? (releases.get(g.deploymentId) ?? null) : null,
          message: g.message,
          createdAt: g.createdAt,
          ports: g.ports,
          endpoints: Object.fromEntries(
            Object.entries(g.ports).map(([name, port]) => {
              const protocol = this.catalog.find(g.cartridge)?.manifest.endpoints.find((e) => e.name === name)?.protocol ?? 'http';
              return [name, `${protocol}://${addresses.get(g.nodeId) ?? '127.0.0.1'}:${port}`];
            }),
          ),
        })),
      createdAt: app.createdAt,
      ...(op ? { operation: presentOperation(op) } : {}),
    };
  }

  /**
   * The user's variables, and the variables the app's services publish to its gears (as gears beside them see them).
   * Secret values are masked unless revealed: only whoever may change the app gets this far, and the mask keeps a
   * password out of a shared screen or a pasted listing.
   */
  env(app: App, domain: Domain, reveal = false, envValues = true) {
    const shape: AppShape = {
      id: app.id,
      name: app.name,
      domain: domain.name,
      state: app.desiredState,
      size: app.size,
      env: app.env,
      cartridges: shapeCartridges(app),
      gears: [],
    };
    const published = publishedVars(shape, this.catalog.cartridges).map((p) => ({
      name: p.name,
      value: p.secret && !reveal ? SECRET_MASK : p.value,
      secret: p.secret,
      from: p.from,
    }));
    return { env: envValues ? app.env : namesOnly(app.env), published, revealed: reveal };
  }
}

/** An app's named services, by name, as GET app lists them: what it keeps of each, and what its gears run. */
function presentServices(app: App, releases: Map<string, number>, defs: Map<string, Record<string, ReleaseService>>) {
  const names = [...new Set([...Object.keys(app.services ?? {}), ...(app.gears ?? []).flatMap((g) => (g.service ? [g.service] : []))])].sort();
  return names.map((name) => {
    const gears = (app.gears ?? []).filter((g) => g.service === name);
    const serving = gears.find((g) => g.deploymentId === app.activeDeploymentId) ?? gears[0];
    return {
      name,
      scale: app.services?.[name]?.scale ?? gears.length,
      // An autoscaled web service: the bounds its scale moves between, and the concurrent requests a gear aims at.
      ...(app.services?.[name]?.autoscale ? { autoscale: { ...app.services[name].autoscale } } : {}),
      gears: gears.length,
      release: serving?.deploymentId ? (releases.get(serving.deploymentId) ?? null) : null,
      cartridge: serving?.cartridge ?? null,
      // A web service's own host names, as the release its gears run names them.
      ...(serving?.deploymentId && defs.get(serving.deploymentId)?.[name]?.hosts ? { hosts: defs.get(serving.deploymentId)![name].hosts } : {}),
    };
  });
}
