import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import type { EntityManager } from 'typeorm';
import type { Cartridge } from '@gearshift/cartridges';
import { CartridgeRecord } from './cartridge.entity';

@Injectable()
export class CartridgesRepository {
  constructor(@InjectEntityManager() private readonly m: EntityManager) {}

  /** Makes the table equal to the catalogue just loaded from the cartridge folders. */
  async replaceAll(catalog: Iterable<Cartridge>): Promise<void> {
    const rows = [...catalog].map((c) => ({ name: c.manifest.name, version: c.manifest.version, hash: c.hash, manifest: c.manifest }));
    await this.m.transaction(async (tx) => {
      if (rows.length > 0) await tx.upsert(CartridgeRecord, rows, ['name']);
      const names = rows.map((r) => r.name);
      await tx
        .createQueryBuilder()
        .delete()
        .from(CartridgeRecord)
        .where(names.length ? 'name <> all(:names)' : 'true', { names })
        .execute();
    });
  }
}
