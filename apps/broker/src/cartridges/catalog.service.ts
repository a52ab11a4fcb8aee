import { Inject, Injectable } from '@nestjs/common';
import { loadCatalog, type Cartridge } from '@gearshift/cartridges';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { notFound } from '../common/errors';
import { Store } from '../database/store';

/** The cartridge catalogue, loaded from the cartridge folders at start (a broken manifest stops the broker). */
@Injectable()
export class CatalogService {
  readonly cartridges: Map<string, Cartridge>;

  constructor(
    @Inject(BROKER_CONFIG) config: BrokerConfig,
    private readonly store: Store,
  ) {
    this.cartridges = loadCatalog(config.cartridgesDir);
  }

  /** Records the catalogue in Postgres, where operators and other brokers can read it. */
  async publish(): Promise<void> {
    await this.store.repos.cartridges.replaceAll(this.cartridges.values());
  }

  find(name: string): Cartridge | undefined {
    return this.cartridges.get(name);
  }

  require(name: string): Cartridge {
    const c = this.cartridges.get(name);
    if (!c) throw notFound(`cartridge "${name}"`);
    return c;
  }

  list() {
    return [...this.cartridges.values()].map((c) => ({ name: c.manifest.name, displayName: c.manifest['display-name'], version: c.manifest.version, categories: c.manifest.categories, hash: c.hash, manifest: c.manifest }));
  }
}
