import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Per-cartridge settings of an app: a gear size of its own, and for docker-image the image, port, env and volumes. */
export class CartridgeOptions1732800000000 implements MigrationInterface {
  name = 'CartridgeOptions1732800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`alter table app_cartridges add column options jsonb not null default '{}'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('alter table app_cartridges drop column options');
  }
}
