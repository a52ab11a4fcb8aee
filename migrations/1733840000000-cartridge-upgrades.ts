import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Database upgrades that keep the old data until the user confirms: the cartridge an upgrade replaced stays in the
 * app, its gear stopped and its volume kept, naming the cartridge that took over. Null: an ordinary cartridge.
 */
export class CartridgeUpgrades1733840000000 implements MigrationInterface {
  name = 'CartridgeUpgrades1733840000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('alter table app_cartridges add column superseded_by text');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('alter table app_cartridges drop column superseded_by');
  }
}
