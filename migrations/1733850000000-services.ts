import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Named services of an app (gearshift.yml `services:`). A release keeps, per service, what its gears run (kind,
 * image, command, environment, port, health, hosts, size, volumes, dependencies and the runtime cartridge it was
 * built on); a gear that runs one names it; the app keeps how many gears each of its services runs.
 */
export class Services1733850000000 implements MigrationInterface {
  name = 'Services1733850000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`alter table deployments add column services jsonb not null default '{}'`);
    await q.query('alter table gears add column service text');
    await q.query(`alter table apps add column services jsonb not null default '{}'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('alter table apps drop column services');
    await q.query('alter table gears drop column service');
    await q.query('alter table deployments drop column services');
  }
}
