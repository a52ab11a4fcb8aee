import { Inject, Injectable } from '@nestjs/common';
import type { GearSpec } from '@gearshift/cartridges';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { CatalogService } from '../cartridges/catalog.service';
import { Store } from '../database/store';
import type { App } from './app.entity';
import { buildGearSpecs, type AppShape, type GearRelease } from './gear-specs';

/** Turns stored apps into gear specs, the desired state the node agents converge to. */
@Injectable()
export class GearSpecsService {
  private readonly domainNames = new Map<string, string>();
  private readonly cache = new Map<string, { key: string; specs: GearSpec[] }>();

  constructor(
    private readonly store: Store,
    private readonly catalog: CatalogService,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

  private async domainName(domainId: string): Promise<string> {
    let name = this.domainNames.get(domainId);
    if (!name) {
      name = (await this.store.repos.domains.findById(domainId))?.name ?? 'unknown';
      this.domainNames.set(domainId, name);
    }
    return name;
  }

  async shapeOf(app: App): Promise<AppShape> {
    const releaseIds = [...new Set((app.gears ?? []).map((g) => g.deploymentId).filter((id): id is string => Boolean(id)))];
    const releases = new Map((await this.store.repos.deployments.findByIds(releaseIds)).map((d) => [d.id, d]));
    const releaseOf = (id: string | null): GearRelease | undefined => {
      const d = id ? releases.get(id) : undefined;
      return d?.image ? { image: d.image, env: d.env } : undefined;
    };
    return {
      id: app.id,
      name: app.name,
      domain: await this.domainName(app.domainId),
      state: app.desiredState,
      size: app.size,
      env: app.env,
      cartridges: [...(app.cartridges ?? [])]
        .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.cartridge.localeCompare(b.cartridge))
        .map((c) => ({ name: c.cartridge, generated: c.generated, options: c.options })),
      gears: (app.gears ?? []).map((g) => ({ id: g.id, cartridge: g.cartridge, nodeId: g.nodeId, generation: g.generation, release: releaseOf(g.deploymentId) })),
    };
  }

  async specs(app: App): Promise<GearSpec[]> {
    return buildGearSpecs(await this.shapeOf(app), this.catalog.cartridges, this.config.instance);
  }

  /**
   * The same specs, reused while the app is unchanged (its row, gears, generations and cartridges): heartbeats ask
   * for every app on a node every few seconds.
   */
  async cachedSpecs(app: App): Promise<GearSpec[]> {
    const key = [
      app.updatedAt.getTime(),
      app.desiredState,
      ...(app.gears ?? []).map((g) => `${g.id}:${g.generation}:${g.nodeId}:${g.deploymentId}`).sort(),
      ...(app.cartridges ?? []).map((c) => c.cartridge).sort(),
    ].join('|');
    const hit = this.cache.get(app.id);
    if (hit?.key === key) return hit.specs;
    const specs = await this.specs(app);
    this.cache.set(app.id, { key, specs });
    if (this.cache.size > 10000) this.cache.delete(this.cache.keys().next().value!);
    return specs;
  }
}
