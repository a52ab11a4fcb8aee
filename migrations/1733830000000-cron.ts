import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Cron entries. A release keeps the `cron:` entries of its gearshift.yml; each run of an entry is a row, unique by
 * the time it was scheduled for, so that no two brokers (an old leader and a new one) run the same time twice and a
 * new leader knows where the last one stopped. Only the newest runs of each entry are kept.
 */
export class Cron1733830000000 implements MigrationInterface {
  name = 'Cron1733830000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`alter table deployments add column cron jsonb not null default '[]'`);
    await q.query(`
      create table cron_runs (
        id uuid primary key default gen_random_uuid(),
        app_id uuid not null references apps(id) on delete cascade,
        schedule text not null,
        command text not null,
        process text,
        release integer not null,
        due_at timestamptz not null,
        state text not null,
        started_at timestamptz,
        finished_at timestamptz,
        exit_code integer,
        output text not null default '',
        error text,
        broker text,
        unique (app_id, schedule, command, due_at)
      )`);
    await q.query('create index cron_runs_entry on cron_runs (app_id, schedule, command, due_at desc)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop table cron_runs');
    await q.query('alter table deployments drop column cron');
  }
}
