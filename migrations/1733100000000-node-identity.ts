import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Nodes join once and keep an identity of their own.
 *
 * - A join token has a number of uses left (null: any number, kept for the broker host's own token in its data
 *   directory). Tokens an administrator made before this version were reusable until they expired; from here on each
 *   admits one more node.
 * - A node has a key, made when it joins and stored hashed; a restarted agent authenticates with it. Nodes registered
 *   before this version have none: they are marked legacy, and the first keyless re-registration of such a node (by its
 *   id and name, as an agent of the earlier version keeps them) is given a key and clears the mark.
 */
export class NodeIdentity1733100000000 implements MigrationInterface {
  name = 'NodeIdentity1733100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('alter table node_join_tokens add column uses_left integer check (uses_left >= 0)');
    await q.query('update node_join_tokens set uses_left = 1 where created_by is not null');
    await q.query('alter table nodes add column key_hash text');
    await q.query('alter table nodes add column legacy boolean not null default false');
    await q.query('update nodes set legacy = true');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('alter table nodes drop column legacy');
    await q.query('alter table nodes drop column key_hash');
    await q.query('alter table node_join_tokens drop column uses_left');
  }
}
