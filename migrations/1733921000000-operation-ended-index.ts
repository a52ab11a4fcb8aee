import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Apps whose operation ended after a moment (a heartbeat's), read through an index: every heartbeat that compares a
 * node's apps asks for them, and a scan would read every operation the platform ever ran.
 */
export class OperationEndedIndex1733921000000 implements MigrationInterface {
  name = 'OperationEndedIndex1733921000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('create index operations_app_ended_idx on operations (finished_at) where app_id is not null');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop index operations_app_ended_idx');
  }
}
