import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An app's own health check (a path and the status that counts as healthy), and the one each release was deployed
 * with: a release keeps its check as it keeps its environment, so rolling back restores both.
 */
export class AppHealth1733040000000 implements MigrationInterface {
  name = 'AppHealth1733040000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('alter table apps add column health jsonb');
    await q.query('alter table deployments add column health jsonb');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('alter table deployments drop column health');
    await q.query('alter table apps drop column health');
  }
}
