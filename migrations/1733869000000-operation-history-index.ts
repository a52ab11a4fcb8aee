import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An app's operations, newest first (`GET .../operations`), read through an index: the partial one on active
 * operations does not serve the history, which otherwise reads every operation of every app.
 */
export class OperationHistoryIndex1733869000000 implements MigrationInterface {
  name = 'OperationHistoryIndex1733869000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('create index operations_app_history_idx on operations (app_id, created_at desc)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop index operations_app_history_idx');
  }
}
