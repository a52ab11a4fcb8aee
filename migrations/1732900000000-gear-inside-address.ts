import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Where a gear is reached from its own node without Docker's port proxy: its address on the app's network and its
 * endpoints' container ports. A router beside the gear's node sends traffic there.
 */
export class GearInsideAddress1732900000000 implements MigrationInterface {
  name = 'GearInsideAddress1732900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('alter table gears add column inside jsonb');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('alter table gears drop column inside');
  }
}
