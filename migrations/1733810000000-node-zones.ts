import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Where a node stands and what it is: a zone (a failure domain: rack, room, cloud zone) that spreads an app's
 * replicas, and labels an operator gives it (`disk=ssd`). Null zone: a zone of its own.
 */
export class NodeZones1733810000000 implements MigrationInterface {
  name = 'NodeZones1733810000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('alter table nodes add column zone text');
    await q.query(`alter table nodes add column labels jsonb not null default '{}'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('alter table nodes drop column labels');
    await q.query('alter table nodes drop column zone');
  }
}
