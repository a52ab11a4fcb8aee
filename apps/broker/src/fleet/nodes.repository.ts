import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import type { EntityManager } from 'typeorm';
import { Node, NodeJoinToken } from './node.entity';
import type { NodeAddresses } from '../apps/node-addresses';
import type { NodePublicKeys } from '../queue/node-public-keys';
import { entityRows } from '../database/entity-rows';

/** What a node gives and is given to keep its secrets: its public key, the password hash of its Redis user. */
export interface NodeSealing {
  publicKey?: string;
  redisPasswordHash?: string;
}

export interface NodeUsage {
  node: Node;
  allocatedMb: number;
  gears: number;
}

/**
 * Node id → its public key and when it was read. Every job sealed for a node needs it, and a create of ten replicas
 * seals several: read once, it is kept until the node registers again through this broker, or for a minute (another
 * broker's re-registration). A node keeps its key pair across restarts, so a change is rare; no key yet is not kept.
 */
const publicKeys = new Map<string, { key: string; at: number }>();
const PUBLIC_KEY_KEPT_MS = 60_000;

@Injectable()
export class NodesRepository implements NodeAddresses, NodePublicKeys {
  constructor(@InjectEntityManager() private readonly m: EntityManager) {}

  async addJoinToken(tokenHash: string, createdBy: string | null, expiresAt: Date, usesLeft: number | null): Promise<string> {
    const row = await this.m.save(NodeJoinToken, this.m.create(NodeJoinToken, { tokenHash, createdBy, expiresAt, usesLeft }));
    return row.id;
  }

  findJoinToken(tokenHash: string): Promise<NodeJoinToken | null> {
    return this.m.findOne(NodeJoinToken, { where: { tokenHash } });
  }

  /** Join tokens that have not expired, newest first. */
  listJoinTokens(): Promise<NodeJoinToken[]> {
    return this.m.createQueryBuilder(NodeJoinToken, 't').where('t.expires_at > now()').orderBy('t.created_at', 'DESC').getMany();
  }

  /** Whether a token with this id was there to delete. */
  async deleteJoinToken(id: string): Promise<boolean> {
    return ((await this.m.delete(NodeJoinToken, { id })).affected ?? 0) > 0;
  }

  /** Takes one use of a token, atomically: false when it is unknown, expired or used up. */
  async useJoinToken(tokenHash: string): Promise<boolean> {
    const rows = (await this.m.query(
      `update node_join_tokens set uses_left = uses_left - 1
        where token_hash = $1 and expires_at > now() and (uses_left is null or uses_left > 0) returning id`,
      [tokenHash],
    )) as [unknown[], number] | unknown[];
    // The pg driver answers an UPDATE ... RETURNING with [rows, count].
    const returned = Array.isArray(rows[0]) ? (rows[0] as unknown[]) : rows;
    return returned.length > 0;
  }

  /** The hash of a node's key (null for a node registered before nodes had keys). */
  async keyHash(id: string): Promise<string | null> {
    const row = await this.m.createQueryBuilder(Node, 'n').addSelect('n.keyHash').where('n.id = :id', { id }).getOne();
    return row?.keyHash ?? null;
  }

  /** Registers a new node with the hash of its key, its public key and the password hash of its Redis user. */
  async create(name: string, memoryMb: number, maxGears: number, keyHash: string, sealing: NodeSealing = {}): Promise<Node> {
    await this.m.insert(Node, { name, memoryMb, maxGears, keyHash, legacy: false, ...sealing });
    return (await this.findByName(name))!;
  }

  /** A known node registers again: its capacity, its public key, and its key or Redis user when it is given one now. */
  async reregister(id: string, memoryMb: number, maxGears: number, keyHash?: string, sealing: NodeSealing = {}): Promise<void> {
    await this.m.update(Node, { id }, { memoryMb, maxGears, ...(keyHash ? { keyHash, legacy: false } : {}), ...sealing });
    publicKeys.delete(id);
  }

  /** The public key secrets are sealed for on their way to a node (null: its agent has not given one). */
  async publicKey(id: string): Promise<string | null> {
    const kept = publicKeys.get(id);
    if (kept && Date.now() - kept.at < PUBLIC_KEY_KEPT_MS) return kept.key;
    const row = await this.m.createQueryBuilder(Node, 'n').addSelect('n.publicKey').where('n.id = :id', { id }).getOne();
    if (row?.publicKey) publicKeys.set(id, { key: row.publicKey, at: Date.now() });
    else publicKeys.delete(id);
    return row?.publicKey ?? null;
  }

  /** Every node that has a Redis user, with the hash of its password. */
  async redisUsers(): Promise<{ id: string; redisPasswordHash: string }[]> {
    const rows = await this.m.createQueryBuilder(Node, 'n').addSelect('n.redisPasswordHash').where('n.redis_password_hash is not null').getMany();
    return rows.map((r) => ({ id: r.id, redisPasswordHash: r.redisPasswordHash! }));
  }

  findById(id: string): Promise<Node | null> {
    return this.m.findOne(Node, { where: { id } });
  }

  /** Node id → the address its published gear ports are reached at. */
  async addresses(): Promise<Map<string, string>> {
    const nodes = await this.m.find(Node, { select: { id: true, address: true } });
    return new Map(nodes.map((n) => [n.id, n.address]));
  }

  findByName(name: string): Promise<Node | null> {
    return this.m.findOne(Node, { where: { name } });
  }

  /** Creates the node, or updates the capacity of the one registered under that name before (seeds fixtures; agents register with a key). */
  async upsert(name: string, memoryMb: number, maxGears: number): Promise<Node> {
    await this.m.upsert(Node, { name, memoryMb, maxGears }, ['name']);
    return (await this.findByName(name))!;
  }

  /**
   * Records a heartbeat taken `at` (the broker's clock) in one statement, the node's row locked: its capacity and
   * address, and that it is not lost. Returns the node as it was before: its name, address and when it was lost. Null
   * when the node is unknown, or when `keptSince` is given and the node has a heartbeat recorded since then (a beat
   * that waited in the queue is not needed: later ones follow it). A hundred nodes beat every second or two: this is
   * the broker's most frequent write.
   */
  async recordHeartbeat(
    id: string,
    beat: { memoryMb: number; maxGears: number; address: string; rssMb: number },
    at: Date,
    keptSince: Date | null = null,
  ): Promise<{ name: string; address: string; lostAt: Date | null } | null> {
    const result = (await this.m.query(
      `update nodes n set last_heartbeat = $2, memory_mb = $3, max_gears = $4, address = $5, agent_rss_mb = $6, lost_at = null
         from (select id, address, lost_at from nodes where id = $1 for update) before
        where n.id = before.id and ($7::timestamptz is null or n.last_heartbeat is null or n.last_heartbeat < $7)
        returning n.name, before.address, before.lost_at`,
      [id, at, beat.memoryMb, beat.maxGears, beat.address, beat.rssMb, keptSince],
    )) as [unknown[], number] | unknown[];
    // The pg driver answers an UPDATE ... RETURNING with [rows, count].
    const rows = (Array.isArray(result[0]) ? result[0] : result) as { name: string; address: string; lost_at: Date | null }[];
    return rows[0] ? { name: rows[0].name, address: rows[0].address, lostAt: rows[0].lost_at } : null;
  }

  /** Marks a node lost unless it has reported since `silentSince`; false when it had (or was lost already). */
  async markLost(id: string, silentSince: Date): Promise<boolean> {
    const result = await this.m
      .createQueryBuilder()
      .update(Node)
      .set({ lostAt: () => 'now()' })
      .where('id = :id and lost_at is null and last_heartbeat < :silentSince', { id, silentSince })
      .execute();
    return (result.affected ?? 0) > 0;
  }

  /** Sets a node's zone (null: none) and labels; what is not given stays. */
  async setPlacement(id: string, placement: { zone?: string | null; labels?: Record<string, string> }): Promise<void> {
    const set = { ...(placement.zone !== undefined ? { zone: placement.zone } : {}), ...(placement.labels ? { labels: placement.labels } : {}) };
    if (Object.keys(set).length > 0) await this.m.update(Node, { id }, set);
  }

  async setState(id: string, state: Node['state']): Promise<void> {
    await this.m.update(Node, { id }, { state });
  }

  async delete(id: string): Promise<void> {
    publicKeys.delete(id);
    await this.m.delete(Node, { id });
  }

  /**
   * Every node, oldest first, without what its gears take: what the heartbeat watchdog, the route table and an app's
   * view read several times a second (summing every gear of the platform for them grew with the gears). Plain SQL,
   * as usage() is (entityRows).
   */
  async all(): Promise<Node[]> {
    const rows = entityRows(this.m, Node, 'n');
    return ((await this.m.query(`select ${rows.fields} from nodes n order by n.created_at`)) as Record<string, unknown>[]).map(rows.of);
  }

  /** The name and address of each of these nodes (those that exist): what an app's view says of where its gears run. */
  async namesOf(ids: string[]): Promise<Pick<Node, 'id' | 'name' | 'address'>[]> {
    if (ids.length === 0) return [];
    return this.m.query('select id, name, address from nodes where id = any($1)', [ids]);
  }

  /** Every node with the memory and gear count its gears take, oldest first. */
  async usage(): Promise<NodeUsage[]> {
    // One statement: placement reads this under its lock, where every round trip to Postgres holds up the next create.
    const nodes = entityRows(this.m, Node, 'n');
    const rows = (await this.m.query(
      `select ${nodes.fields}, coalesce(u.mb, 0) as usage_mb, coalesce(u.gears, 0) as usage_gears
         from nodes n left join (select node_id, sum(memory_mb) as mb, count(*) as gears from gears group by node_id) u on u.node_id = n.id
        order by n.created_at`,
    )) as (Record<string, unknown> & { usage_mb: string; usage_gears: string })[];
    return rows.map((r) => ({ node: nodes.of(r), allocatedMb: Number(r.usage_mb), gears: Number(r.usage_gears) }));
  }
}
