import { Inject, Injectable } from '@nestjs/common';
import type { Cartridge } from '@gearshift/cartridges';
import { notFound } from '../common/errors';
import { Store } from '../database/store';

export const CATALOG = Symbol('CATALOG');

/**
 * The cartridge catalogue. main() loads it from the cartridge folders before anything else starts, so a broken
 * manifest stops the broker at once with its file, field and rule.
 */
@Injectable()
export class CatalogService {
  constructor(
    @Inject(CATALOG) readonly cartridges: Map<string, Cartridge>,
    private readonly store: Store,
  ) {}

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
