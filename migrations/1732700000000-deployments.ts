import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Deployments: each is an immutable release of an app (an image and the environment it was released with). Web
 * gears name the release they run, so old and new gears can serve side by side during a rollout. Operations that
 * run in stages (build, roll out, retire) keep their stage in `context`.
 */
export class Deployments1732700000000 implements MigrationInterface {
  name = 'Deployments1732700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      create table deployments (
        id uuid primary key default gen_random_uuid(),
        app_id uuid not null references apps(id) on delete cascade,
        number integer not null,
        state text not null check (state in ('building', 'rolling-out', 'active', 'inactive', 'failed')),
        source jsonb not null,
        image text,
        dockerfile text check (dockerfile in ('recipe', 'repository')),
        env jsonb not null default '{}',
        hooks jsonb not null default '{}',
        log text not null default '',
        error text,
        source_token text,
        pruned boolean not null default false,
        user_id uuid references users(id) on delete set null,
        operation_id uuid references operations(id) on delete set null,
        created_at timestamptz not null default now(),
        finished_at timestamptz,
        unique (app_id, number)
      )`);
    await q.query('create index deployments_app on deployments (app_id, number desc)');
    await q.query('alter table apps add column active_deployment_id uuid references deployments(id) on delete set null');
    await q.query('alter table gears add column deployment_id uuid references deployments(id) on delete set null');
    await q.query(`alter table operations add column context jsonb not null default '{}'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('alter table operations drop column context');
    await q.query('alter table gears drop column deployment_id');
    await q.query('alter table apps drop column active_deployment_id');
    await q.query('drop table deployments');
  }
}
