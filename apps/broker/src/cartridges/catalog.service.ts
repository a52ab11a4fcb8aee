import { Inject, Injectable } from '@nestjs/common';
import { cartridgeFamily, entryName, lifecycleOf, loadCatalog, newestOf, resolveCartridge, type Cartridge, type CartridgeEntry } from '@gearshift/cartridges';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { GearshiftError } from '../common/errors';
import type { User } from '../users/user.entity';
import { notFound } from '../common/errors';
import { CartridgesInUse } from './cartridges-in-use';
import { CartridgesRepository } from './cartridges.repository';

export const CATALOG = Symbol('CATALOG');

/**
 * The cartridge catalogue. main() loads it from the cartridge folders before anything else starts, so a broken
 * manifest stops the broker at once with its file, field and rule.
 */
@Injectable()
export class CatalogService {
  constructor(
    @Inject(CATALOG) readonly cartridges: Map<string, Cartridge>,
    private readonly inUse: CartridgesInUse,
    private readonly cartridgesRepository: CartridgesRepository,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

  /**
   * Reads the cartridge folders again (an operator added or changed one). All or nothing: a broken manifest is
   * reported with its file, field and rule, and the catalogue in use stays as it was.
   */
  async reload(user: User) {
    if (!user.isAdmin) throw new GearshiftError('forbidden', 'only an administrator can reload the catalogue');
    const next = loadCatalog(this.config.cartridgesDir);
    const before = new Map([...this.cartridges].map(([name, c]) => [name, c.hash]));
    const inUse = await this.inUse.cartridgesInUse();
    const missing = [...inUse].filter((name) => !next.has(name));
    if (missing.length > 0) {
      throw new GearshiftError('conflict', `apps still use ${missing.join(', ')}, which the new catalogue lacks; remove those cartridges from the apps first`);
    }
    this.cartridges.clear();
    for (const [name, c] of next) this.cartridges.set(name, c);
    await this.publish();
    return {
      added: [...next.keys()].filter((n) => !before.has(n)),
      changed: [...next].filter(([n, c]) => before.has(n) && before.get(n) !== c.hash).map(([n]) => n),
      removed: [...before.keys()].filter((n) => !next.has(n)),
      cartridges: next.size,
    };
  }

  /** Records the catalogue in Postgres, where operators and other brokers can read it. */
  async publish(): Promise<void> {
    await this.cartridgesRepository.replaceAll(this.cartridges.values());
  }

  /**
   * Names the catalogue in use: it changes when a reload changes any cartridge. Gear specs are built from the
   * catalogue, so what is kept of them (cached specs, apps found in order) is kept under this name.
   */
  fingerprint(): string {
    return [...this.cartridges].map(([name, c]) => `${name}:${c.hash}`).join(',');
  }

  find(name: string): Cartridge | undefined {
    return this.cartridges.get(name);
  }

  /** The web cartridge among an app's cartridges. */
  webOf(names: string[]): Cartridge | undefined {
    return names.map((n) => this.cartridges.get(n)).find((c) => c?.manifest.categories.includes('web'));
  }

  require(name: string): Cartridge {
    const c = this.cartridges.get(name) ?? resolveCartridge(name, this.cartridges)?.cartridge;
    if (!c) throw notFound(`cartridge "${name}"`);
    return c;
  }

  /**
   * The names a request or a gearshift.yml gives, as catalogue names: a bare family (`nodejs`) means the family's
   * cartridge the app already has (`inApp`), else the newest current one; a full name pins. Unknown names stay as
   * they are, for the set's own check to report. Deprecated choices come back as warnings.
   */
  resolveEntries<E extends CartridgeEntry>(entries: readonly E[], inApp: string[] = []): { entries: E[]; warnings: string[] } {
    const warnings: string[] = [];
    const resolved = entries.map((entry) => {
      const name = entryName(entry);
      const kept = this.cartridges.has(name) ? undefined : inApp.find((c) => cartridgeFamily(c) === name);
      const r = kept ? resolveCartridge(kept, this.cartridges) : resolveCartridge(name, this.cartridges);
      if (!r) return entry;
      if (r.warning && !inApp.includes(r.cartridge.manifest.name)) warnings.push(r.warning);
      const full = r.cartridge.manifest.name;
      if (full === name) return entry;
      return (typeof entry === 'string' ? full : { ...(entry as Exclude<CartridgeEntry, string>), name: full }) as E;
    });
    return { entries: resolved, warnings };
  }

  list() {
    return [...this.cartridges.values()].map((c) => {
      const family = cartridgeFamily(c.manifest.name);
      const life = lifecycleOf(c.manifest);
      return {
        name: c.manifest.name,
        displayName: c.manifest['display-name'],
        version: c.manifest.version,
        status: life.status,
        endOfLife: life.endOfLife,
        base: c.manifest.base ?? 'bookworm',
        // The family name a request may give instead, when this is the cartridge it means.
        defaultFor: family && newestOf(family, this.cartridges) === c ? family : null,
        categories: c.manifest.categories,
        hash: c.hash,
        manifest: c.manifest,
      };
    });
  }
}
