import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Teams hold domains; members have a role per team (owner, developer, viewer). Every user gets a personal team named
 * as the user, of which they are the owner, and each domain moves to its owner's personal team, so that everyone
 * keeps exactly the domains they had. `domains.owner_id` stays as who made the domain. Quotas are per team (null:
 * unlimited).
 */
export class Teams1733300000000 implements MigrationInterface {
  name = 'Teams1733300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      create table teams (
        id uuid primary key default gen_random_uuid(),
        name text not null unique,
        personal_user_id uuid unique references users(id) on delete cascade,
        max_gears integer check (max_gears >= 0),
        max_memory_mb integer check (max_memory_mb >= 0),
        created_at timestamptz not null default now()
      )
    `);
    await q.query(`
      create table team_members (
        team_id uuid not null references teams(id) on delete cascade,
        user_id uuid not null references users(id) on delete cascade,
        role text not null check (role in ('owner', 'developer', 'viewer')),
        created_at timestamptz not null default now(),
        primary key (team_id, user_id)
      )
    `);
    await q.query('create index team_members_user_id on team_members (user_id)');
    await q.query('insert into teams (name, personal_user_id) select username, id from users');
    await q.query(`insert into team_members (team_id, user_id, role) select id, personal_user_id, 'owner' from teams`);
    await q.query('alter table domains add column team_id uuid references teams(id) on delete restrict');
    await q.query('update domains d set team_id = t.id from teams t where t.personal_user_id = d.owner_id');
    await q.query('alter table domains alter column team_id set not null');
    await q.query('create index domains_team_id on domains (team_id)');
    // A user who made a domain in a shared team may leave the platform; the domain stays with its team.
    await q.query('alter table domains alter column owner_id drop not null');
    await q.query('alter table domains drop constraint domains_owner_id_fkey');
    await q.query('alter table domains add constraint domains_owner_id_fkey foreign key (owner_id) references users(id) on delete set null');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query("update domains d set owner_id = m.user_id from team_members m where d.owner_id is null and m.team_id = d.team_id and m.role = 'owner'");
    await q.query('alter table domains drop constraint domains_owner_id_fkey');
    await q.query('alter table domains add constraint domains_owner_id_fkey foreign key (owner_id) references users(id) on delete restrict');
    await q.query('alter table domains alter column owner_id set not null');
    await q.query('drop index domains_team_id');
    await q.query('alter table domains drop column team_id');
    await q.query('drop table team_members');
    await q.query('drop table teams');
  }
}
