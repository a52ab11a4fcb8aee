import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Users, tokens, domains, apps, cartridges, gears, nodes and operations. */
export class InitialSchema1732300000000 implements MigrationInterface {
  name = 'InitialSchema1732300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      create table users (
        id uuid primary key default gen_random_uuid(),
        username text not null unique,
        password_hash text not null,
        is_admin boolean not null default false,
        created_at timestamptz not null default now()
      );
      create table api_tokens (
        id uuid primary key default gen_random_uuid(),
        user_id uuid not null references users(id) on delete cascade,
        token_hash text not null unique,
        created_at timestamptz not null default now(),
        expires_at timestamptz not null
      );
      create table domains (
        id uuid primary key default gen_random_uuid(),
        name text not null unique,
        owner_id uuid not null references users(id) on delete restrict,
        created_at timestamptz not null default now()
      );
      create table cartridges (
        name text primary key,
        version text not null,
        hash text not null,
        manifest jsonb not null,
        updated_at timestamptz not null default now()
      );
      create table nodes (
        id uuid primary key default gen_random_uuid(),
        name text not null unique,
        state text not null default 'active' check (state in ('active', 'draining')),
        memory_mb integer not null check (memory_mb > 0),
        max_gears integer not null check (max_gears > 0),
        last_heartbeat timestamptz,
        agent_rss_mb integer,
        created_at timestamptz not null default now()
      );
      create table node_join_tokens (
        id uuid primary key default gen_random_uuid(),
        token_hash text not null unique,
        created_by uuid references users(id) on delete set null,
        expires_at timestamptz not null,
        created_at timestamptz not null default now()
      );
      create table apps (
        id uuid primary key default gen_random_uuid(),
        domain_id uuid not null references domains(id) on delete restrict,
        name text not null,
        desired_state text not null check (desired_state in ('started', 'stopped', 'deleting')),
        size text not null,
        env jsonb not null default '{}',
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        unique (domain_id, name)
      );
      create table app_cartridges (
        id uuid primary key default gen_random_uuid(),
        app_id uuid not null references apps(id) on delete cascade,
        cartridge text not null,
        generated jsonb not null default '{}',
        created_at timestamptz not null default now(),
        unique (app_id, cartridge)
      );
      create table gears (
        id uuid primary key default gen_random_uuid(),
        app_id uuid not null references apps(id) on delete cascade,
        cartridge text not null,
        node_id uuid not null references nodes(id) on delete restrict,
        memory_mb integer not null,
        generation integer not null default 0,
        state text not null default 'starting',
        ports jsonb not null default '{}',
        container_id text,
        message text,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      );
      create index gears_node_idx on gears (node_id);
      create index gears_app_idx on gears (app_id);
      create table operations (
        id uuid primary key default gen_random_uuid(),
        kind text not null,
        app_id uuid references apps(id) on delete set null,
        user_id uuid references users(id) on delete set null,
        state text not null check (state in ('queued', 'running', 'succeeded', 'failed')),
        steps jsonb not null default '[]',
        error text,
        pending_nodes uuid[] not null default '{}',
        dispatch jsonb not null default '[]',
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        finished_at timestamptz
      );
      create index operations_app_active_idx on operations (app_id) where state in ('queued', 'running');
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      drop table operations;
      drop table gears;
      drop table app_cartridges;
      drop table apps;
      drop table node_join_tokens;
      drop table nodes;
      drop table cartridges;
      drop table domains;
      drop table api_tokens;
      drop table users;
    `);
  }
}
