import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The audit log: one row per change asked of the broker, refused ones included. The actor's id is kept without a
 * reference and their name as text, so that the events of a deleted user stay readable; `domain` is the name the
 * change was aimed at, which decides who else may read the event.
 */
export class Audit1733400000000 implements MigrationInterface {
  name = 'Audit1733400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      create table audit_events (
        id uuid primary key default gen_random_uuid(),
        at timestamptz not null default now(),
        actor_id uuid,
        actor_username text,
        token_id uuid,
        token_kind text,
        token_name text,
        source_address text,
        action text not null,
        target text,
        domain text,
        status_code integer not null,
        outcome text not null check (outcome in ('ok', 'refused', 'failed')),
        operation_id uuid,
        details jsonb not null default '{}'
      )
    `);
    await q.query('create index audit_events_at on audit_events (at desc)');
    await q.query('create index audit_events_actor on audit_events (actor_id, at desc)');
    await q.query('create index audit_events_domain on audit_events (domain, at desc)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop table audit_events');
  }
}
