import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Custom host names of apps, with an optional TLS certificate and key each. */
export class Aliases1732400000000 implements MigrationInterface {
  name = 'Aliases1732400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      create table aliases (
        id uuid primary key default gen_random_uuid(),
        app_id uuid not null references apps(id) on delete cascade,
        host text not null unique,
        certificate text,
        private_key text,
        created_at timestamptz not null default now()
      );
      create index aliases_app_idx on aliases (app_id);
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop table aliases');
  }
}
