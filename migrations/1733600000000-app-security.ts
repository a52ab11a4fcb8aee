import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What an administrator allows one app's docker-image gears beyond the restricted default: root, capabilities, a
 * read-only root filesystem. Null (every app until an administrator says otherwise): the restricted default.
 */
export class AppSecurity1733600000000 implements MigrationInterface {
  name = 'AppSecurity1733600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('alter table apps add column security_override jsonb');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('alter table apps drop column security_override');
  }
}
