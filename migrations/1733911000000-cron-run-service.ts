import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each cron run records the named service it ran in (null: a process type of the release's image, `process`), as
 * the release that ran it named it: a later release may move the same entry to another service.
 */
export class CronRunService1733911000000 implements MigrationInterface {
  name = 'CronRunService1733911000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('alter table cron_runs add column service text');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('alter table cron_runs drop column service');
  }
}
