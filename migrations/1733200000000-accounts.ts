import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Accounts an administrator can disable, and tokens a user can name, scope, list and revoke. A login token is kind
 * `login` with every scope (as every token was before); a personal access token is kind `personal` with the scopes
 * it was made with. `last_used_at` tells a stale token from one a script still uses.
 */
export class Accounts1733200000000 implements MigrationInterface {
  name = 'Accounts1733200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('alter table users add column disabled boolean not null default false');
    await q.query(`
      alter table api_tokens
        add column kind text not null default 'login' check (kind in ('login', 'personal')),
        add column name text,
        add column scopes text[] not null default '{admin}',
        add column last_used_at timestamptz
    `);
    await q.query('create index api_tokens_user_id on api_tokens (user_id)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop index api_tokens_user_id');
    await q.query('alter table api_tokens drop column last_used_at, drop column scopes, drop column name, drop column kind');
    await q.query('alter table users drop column disabled');
  }
}
