import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { CertificateAuthority } from '../common/certificates';
import { CatalogService } from '../cartridges/catalog.service';
import { UnitOfWork } from '../database/unit-of-work';
import { AppsRepository } from './apps.repository';
import { generatedFor, lacksGenerated } from './generated-values';

const REPOS = { apps: AppsRepository };

/**
 * Fills in, at start, the values a cartridge's newer manifest generates that apps embedding it from before lack (a
 * database's TLS certificate, say), so that upgrading Gearshift upgrades those apps too. Their gears take the new
 * values the next time the agents converge them.
 */
@Injectable()
export class GeneratedValuesService implements OnApplicationBootstrap {
  private readonly logger = new Logger('apps');

  constructor(
    private readonly uow: UnitOfWork,
    private readonly appsRepository: AppsRepository,
    private readonly catalog: CatalogService,
    private readonly ca: CertificateAuthority,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const filled = await this.fillIn();
    if (filled > 0) this.logger.log(`generated the values that ${filled} embedded cartridge(s) from an earlier version lacked`);
  }

  /** Returns how many embedded cartridges it completed; none on later starts. */
  async fillIn(): Promise<number> {
    const generating = [...this.catalog.cartridges.values()].filter((c) => (c.manifest.env ?? []).some((e) => e.generate));
    let filled = 0;
    for (const row of await this.appsRepository.embedded(generating.map((c) => c.manifest.name))) {
      const cartridge = this.catalog.require(row.cartridge);
      if (!lacksGenerated(cartridge, row.generated)) continue;
      const generated = generatedFor(cartridge, this.ca, row.generated);
      if (await this.uow.run(REPOS, (repos) => repos.apps.setGenerated(row, generated))) filled++;
    }
    return filled;
  }
}
