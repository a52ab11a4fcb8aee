import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The address a node's published gear ports are reached at, for routers on other hosts. */
export class NodeAddress1732600000000 implements MigrationInterface {
  name = 'NodeAddress1732600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`alter table nodes add column address text not null default '127.0.0.1'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('alter table nodes drop column address');
  }
}
