import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Losing a node. A node the leader broker has not heard from for the heartbeat timeout is marked lost (`lost_at`);
 * each gear carries the epoch of its assignment (a fencing token, raised when the gear moves to another node), and an
 * app whose data was on a lost node says why it is degraded until its data is restored elsewhere.
 */
export class NodeLoss1733800000000 implements MigrationInterface {
  name = 'NodeLoss1733800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('alter table nodes add column lost_at timestamptz');
    await q.query('alter table gears add column epoch integer not null default 1');
    await q.query('alter table apps add column degraded text');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('alter table apps drop column degraded');
    await q.query('alter table gears drop column epoch');
    await q.query('alter table nodes drop column lost_at');
  }
}
