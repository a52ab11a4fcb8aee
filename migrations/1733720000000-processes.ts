import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Procfile process types. A release keeps the process lines its Procfile named (`web`, `release`, `worker`, …); a
 * gear that runs one of them other than web (a worker) names it. Null: the cartridge's own gear (web or service).
 */
export class Processes1733720000000 implements MigrationInterface {
  name = 'Processes1733720000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`alter table deployments add column processes jsonb not null default '{}'`);
    await q.query('alter table gears add column process text');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('alter table gears drop column process');
    await q.query('alter table deployments drop column processes');
  }
}
