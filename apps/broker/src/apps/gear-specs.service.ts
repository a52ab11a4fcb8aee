import { Inject, Injectable } from '@nestjs/common';
import type { Cartridge, GearSpec } from '@gearshift/cartridges';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { CatalogService } from '../cartridges/catalog.service';
import { DeploymentsRepository } from './deployments.repository';
import { DomainsRepository } from '../domains/domains.repository';
import { NodeAddresses } from './node-addresses';
import type { App } from './app.entity';
import { buildGearSpecs, conflictWarning, publishedConflicts, publishedVars, type AppShape, type GearRelease } from './gear-specs';

/** An app's cartridges in the order they were added: the first to publish a variable keeps it. */
export const shapeCartridges = (app: App): AppShape['cartridges'] =>
  [...(app.cartridges ?? [])]
    .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.cartridge.localeCompare(b.cartridge))
    .map((c) => ({ name: c.cartridge, generated: c.generated, options: c.options, ...(c.supersededBy ? { supersededBy: c.supersededBy } : {}) }));

/**
 * One line for each variable several of the app's cartridges publish that its own environment does not choose,
 * saying whose value is given (see publishedConflicts): for the push's output and app show.
 */
export function publishedWarnings(app: App, domain: string, catalog: Map<string, Cartridge>): string[] {
  if ((app.cartridges ?? []).length < 2) return [];
  const shape: AppShape = {
    id: app.id,
    name: app.name,
    domain,
    state: app.desiredState,
    size: app.size,
    env: app.env,
    cartridges: shapeCartridges(app),
    gears: [],
  };
  return publishedConflicts(publishedVars(shape, catalog), app.env)
    .filter((c) => c.given !== null)
    .map(conflictWarning);
}

/** Turns stored apps into gear specs, the desired state the node agents converge to. */
@Injectable()
export class GearSpecsService {
  private readonly domainNames = new Map<string, string>();
  private readonly cache = new Map<string, { key: string; specs: GearSpec[] }>();
  private addresses?: { at: number; byNode: Map<string, string> };

  constructor(
    private readonly deploymentsRepository: DeploymentsRepository,
    private readonly domainsRepository: DomainsRepository,
    private readonly nodes: NodeAddresses,
    private readonly catalog: CatalogService,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

  private async domainName(domainId: string): Promise<string> {
    let name = this.domainNames.get(domainId);
    if (!name) {
      name = (await this.domainsRepository.findById(domainId))?.name ?? 'unknown';
      this.domainNames.set(domainId, name);
    }
    return name;
  }

  /** Node addresses, read at most every few seconds: they change when an operator moves a node. */
  private async nodeAddresses(): Promise<Map<string, string>> {
    if (!this.addresses || Date.now() - this.addresses.at > 5000) this.addresses = { at: Date.now(), byNode: await this.nodes.addresses() };
    return this.addresses.byNode;
  }

  /** Only an app whose gears run on several nodes needs them (its gears reach services on other nodes). */
  private async addressesFor(app: App): Promise<Record<string, string> | undefined> {
    const nodes = new Set((app.gears ?? []).map((g) => g.nodeId));
    if (nodes.size < 2) return undefined;
    const all = await this.nodeAddresses();
    return Object.fromEntries([...nodes].map((id) => [id, all.get(id) ?? '127.0.0.1']));
  }

  /** `envOf`: gear id → the environment a rollout starts that gear with (see AppShape). */
  async shapeOf(app: App, envOf?: ReadonlyMap<string, Record<string, string>>): Promise<AppShape> {
    const releaseIds = [...new Set((app.gears ?? []).map((g) => g.deploymentId).filter((id): id is string => Boolean(id)))];
    const releases = new Map((await this.deploymentsRepository.findByIds(releaseIds)).map((d) => [d.id, d]));
    const releaseOf = (id: string | null): GearRelease | undefined => {
      const d = id ? releases.get(id) : undefined;
      // A release of named services only builds no image of the web cartridge's.
      return d && (d.image || Object.keys(d.services ?? {}).length)
        ? {
            image: d.image ?? '',
            env: d.env,
            ...(d.health ? { health: d.health } : {}),
            ...(Object.keys(d.processes ?? {}).length ? { processes: d.processes } : {}),
            ...(Object.keys(d.services ?? {}).length ? { services: d.services } : {}),
          }
        : undefined;
    };
    return {
      id: app.id,
      name: app.name,
      domain: await this.domainName(app.domainId),
      state: app.desiredState,
      size: app.size,
      env: app.env,
      cartridges: shapeCartridges(app),
      gears: (app.gears ?? []).map((g) => ({
        id: g.id,
        cartridge: g.cartridge,
        nodeId: g.nodeId,
        generation: g.generation,
        release: releaseOf(g.deploymentId),
        ...(g.process ? { process: g.process } : {}),
        ...(g.service ? { service: g.service } : {}),
        ports: g.ports,
        ...(envOf?.has(g.id) ? { env: envOf.get(g.id) } : {}),
      })),
      nodeAddresses: await this.addressesFor(app),
      securityOverride: app.securityOverride,
    };
  }

  async specs(app: App, envOf?: ReadonlyMap<string, Record<string, string>>): Promise<GearSpec[]> {
    return buildGearSpecs(await this.shapeOf(app, envOf), this.catalog.cartridges, this.config.instance);
  }

  /** The specs of the app's gears as they were before it had `cartridge` (its gears and what it publishes left out). */
  async specsWithout(app: App, cartridge: string): Promise<GearSpec[]> {
    const shape = await this.shapeOf(app);
    const without = { ...shape, cartridges: shape.cartridges.filter((c) => c.name !== cartridge), gears: shape.gears.filter((g) => g.cartridge !== cartridge) };
    return buildGearSpecs(without, this.catalog.cartridges, this.config.instance);
  }

  /** The specs of `gearIds` as they were while the app's web cartridge `to` was still `from` (a runtime move). */
  async specsBeforeMove(app: App, gearIds: string[], from: string, to: string): Promise<GearSpec[]> {
    const shape = await this.shapeOf(app);
    const before = {
      ...shape,
      cartridges: shape.cartridges.map((c) => (c.name === to ? { ...c, name: from } : c)),
      gears: shape.gears.map((g) => (gearIds.includes(g.id) ? { ...g, cartridge: from } : g)),
    };
    return buildGearSpecs(before, this.catalog.cartridges, this.config.instance).filter((s) => gearIds.includes(s.gearId));
  }

  /**
   * The same specs, reused while the app is unchanged (its row, gears, generations and cartridges): heartbeats ask
   * for every app on a node every few seconds.
   */
  async cachedSpecs(app: App): Promise<GearSpec[]> {
    const key = [
      this.catalog.fingerprint(),
      app.updatedAt.getTime(),
      app.desiredState,
      // Published ports and node addresses: what gears on other nodes reach the app's services at.
      ...(app.gears ?? []).map((g) => `${g.id}:${g.generation}:${g.nodeId}:${g.deploymentId}:${g.process}:${g.service}:${JSON.stringify(g.ports)}`).sort(),
      ...(app.cartridges ?? []).map((c) => `${c.cartridge}:${c.supersededBy ?? ''}`).sort(),
      JSON.stringify(await this.addressesFor(app)),
    ].join('|');
    const hit = this.cache.get(app.id);
    if (hit?.key === key) return hit.specs;
    const specs = await this.specs(app);
    this.cache.set(app.id, { key, specs });
    if (this.cache.size > 10000) this.cache.delete(this.cache.keys().next().value!);
    return specs;
  }
}
