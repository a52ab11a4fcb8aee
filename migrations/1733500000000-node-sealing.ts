import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Secrets travel sealed for their node, and each node has a Redis user of its own.
 *
 * - `public_key`: the X25519 public key the node's agent made when it joined (or registered again); the broker seals
 *   every secret value of a job for it. Null until the node's agent registers with this version.
 * - `redis_password_hash`: the SHA-256 of the password of the node's Redis user (as Redis's ACL takes it, `#<hex>`),
 *   so that the broker can make the user again after Redis lost it without ever keeping the password.
 */
export class NodeSealing1733500000000 implements MigrationInterface {
  name = 'NodeSealing1733500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('alter table nodes add column public_key text');
    await q.query('alter table nodes add column redis_password_hash text');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('alter table nodes drop column redis_password_hash');
    await q.query('alter table nodes drop column public_key');
  }
}
