import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { contractMismatch, isNodePublicKey, JOB_CONTRACT_VERSION, nodeQueue } from '@gearshift/cartridges';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { randomToken } from '../common/random-token';
import { conflict, GearshiftError, invalid, notFound } from '../common/errors';
import { UnitOfWork } from '../database/unit-of-work';
import { NodesRepository, type NodeSealing } from '../fleet/nodes.repository';
import { QueueService } from '../queue/queue.service';
import { newRedisPassword } from '../queue/node-redis-users';
import type { Node, NodeJoinToken } from '../fleet/node.entity';
import { tokenHash } from '../users/password';
import type { User } from '../users/user.entity';

export interface Registration {
  name: string;
  memoryMb: number;
  maxGears: number;
  contractVersion?: number;
  /** A join token: a new node joins with it. */
  token?: string;
  /** A node that joined before: its id and the key it was given (no key: a node registered before nodes had keys). */
  nodeId?: string;
  key?: string;
  /** The X25519 public key the agent made (base64url): the broker seals the node's secrets for it. */
  publicKey?: string;
  /** The zone and labels the node's own settings give it; when given, they replace what the node had. */
  zone?: string;
  labels?: Record<string, string>;
}

/** A node's own Redis user, given once (at join, or to a node that had none) and kept by its agent. */
interface RedisCredentials {
  username: string;
  password: string;
}

const requireAdmin = (user: User) => {
  if (!user.isAdmin) throw new GearshiftError('forbidden', 'only an administrator can manage nodes');
};

const unauthorized = (message: string) => new GearshiftError('unauthorized', message);

/** A unique constraint refused the write (Postgres's 23505, as TypeORM passes it on). */
const isUniqueViolation = (err: unknown) => {
  const e = err as { code?: string; driverError?: { code?: string } };
  return e?.code === '23505' || e?.driverError?.code === '23505';
};

const sameHash = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * How nodes join and prove who they are. A join token admits a number of new nodes (one unless its maker said more)
 * until it expires or is revoked; each node is given a key when it joins, shown once and stored hashed, and its
 * agent authenticates with that key whenever it starts again. A name belongs to the node registered under it.
 */
@Injectable()
export class NodeJoinService implements OnApplicationBootstrap {
  private readonly logger = new Logger('nodes');

  constructor(
    private readonly nodesRepository: NodesRepository,
    private readonly queue: QueueService,
    private readonly uow: UnitOfWork,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

  /**
   * Keeps a join token for agents on this host in the data directory (mode 0600), so `npm run up` can start one. It
   * admits any number of nodes, since only this host's administrator can read it; it is listed and revocable like any
   * other, and a revoked one is replaced at the next start.
   */
  async onApplicationBootstrap(): Promise<void> {
    await this.restoreRedisUsers();
    this.queue.onReconnect(() => this.restoreRedisUsers());
    const file = join(this.config.dataDir, 'join-token');
    if (existsSync(file)) {
      const saved = await this.nodesRepository.findJoinToken(tokenHash(readFileSync(file, 'utf8').trim()));
      if (saved && saved.expiresAt.getTime() > Date.now() && saved.usesLeft !== 0) return;
    }
    const token = randomToken('gsj');
    await this.nodesRepository.addJoinToken(tokenHash(token), null, new Date(Date.now() + 10 * 365 * 24 * 3600 * 1000), null);
    mkdirSync(this.config.dataDir, { recursive: true });
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
  }

  /**
   * Makes each node's Redis user again from the hash of its password: users made with ACL SETUSER live in Redis's
   * memory, and a restarted Redis would otherwise refuse every agent.
   */
  private async restoreRedisUsers(): Promise<void> {
    for (const node of await this.nodesRepository.redisUsers()) await this.queue.ensureNodeUser(node.id, node.redisPasswordHash);
  }

  /** A new Redis user for a node: made in Redis now, its password hash to be stored, its password given once. */
  private async newRedisUser(nodeId: string): Promise<{ hash: string; credentials: RedisCredentials }> {
    const { password, hash } = newRedisPassword();
    const username = await this.queue.ensureNodeUser(nodeId, hash);
    return { hash, credentials: { username, password } };
  }

  async createToken(user: User, opts: { ttlHours: number; uses: number }) {
    requireAdmin(user);
    const token = randomToken('gsj');
    const expiresAt = new Date(Date.now() + opts.ttlHours * 3600 * 1000);
    const id = await this.nodesRepository.addJoinToken(tokenHash(token), user.id, expiresAt, opts.uses);
    return { id, token, uses: opts.uses, expiresAt: expiresAt.toISOString(), usage: `GEARSHIFT_JOIN_TOKEN=${token} npm run agent` };
  }

  /** Tokens that have not expired: never the token itself, which only its maker was shown. */
  async listTokens(user: User) {
    requireAdmin(user);
    return (await this.nodesRepository.listJoinTokens()).map((t: NodeJoinToken) => ({
      id: t.id,
      usesLeft: t.usesLeft,
      expiresAt: t.expiresAt.toISOString(),
      createdAt: t.createdAt.toISOString(),
      createdBy: t.createdBy,
      hostToken: t.usesLeft === null,
    }));
  }

  async revokeToken(user: User, id: string): Promise<void> {
    requireAdmin(user);
    if (!/^[0-9a-f-]{36}$/.test(id) || !(await this.nodesRepository.deleteJoinToken(id))) throw notFound(`join token "${id}"`);
  }

  async register(body: Registration) {
    if (body.nodeId !== undefined) {
      const node = await this.nodesRepository.findById(body.nodeId);
      if (node && node.name === body.name) return this.authenticate(node, body);
      // A node removed by an administrator joins again, as a new node, when its agent holds a join token.
      if (body.token === undefined) {
        throw unauthorized(`no node ${body.name} with id ${body.nodeId} is registered (it may have been removed); join again with a join token`);
      }
    }
    if (body.token === undefined) throw invalid('/token', 'required', 'is required to join (or nodeId and key, for a node that joined before)');
    return this.join(body as Registration & { token: string });
  }

  /** A node that joined before starts again: it proves itself with its key (or, once, as a node from before keys). */
  private async authenticate(node: Node, body: Registration) {
    const stored = await this.nodesRepository.keyHash(node.id);
    let newKey: string | undefined;
    if (stored) {
      if (body.key === undefined || !sameHash(stored, tokenHash(body.key))) throw unauthorized(`the key of node ${node.name} does not match`);
    } else if (node.legacy && body.key === undefined) {
      newKey = randomToken('gsn');
    } else {
      throw unauthorized(`the key of node ${node.name} does not match`);
    }
    this.checkContract(body);
    this.checkPublicKey(body);
    const sealing: NodeSealing = { publicKey: body.publicKey };
    // A node that joined before nodes had Redis users (or lost its credentials) is given one now; one that has a user
    // keeps it, and the broker makes it again in Redis in case Redis lost it.
    const existing = (await this.nodesRepository.redisUsers()).find((u) => u.id === node.id);
    let redis: RedisCredentials | undefined;
    if (existing) await this.queue.ensureNodeUser(node.id, existing.redisPasswordHash);
    else {
      const made = await this.newRedisUser(node.id);
      sealing.redisPasswordHash = made.hash;
      redis = made.credentials;
    }
    await this.nodesRepository.reregister(node.id, body.memoryMb, body.maxGears, newKey ? tokenHash(newKey) : undefined, sealing);
    await this.nodesRepository.setPlacement(node.id, { zone: body.zone, labels: body.labels });
    if (newKey) this.logger.log(`node ${node.name} (${node.id}), registered before nodes had keys, was given its key`);
    else this.logger.log(`node ${node.name} (${node.id}) authenticated with its key`);
    return { ...this.answer(node), ...(newKey ? { key: newKey } : {}), ...(redis ? { redis } : {}) };
  }

  /** A new node joins with a join token, and is given its key. */
  private async join(body: Registration & { token: string }) {
    const hash = tokenHash(body.token);
    const token = await this.nodesRepository.findJoinToken(hash);
    if (!token) throw unauthorized('the join token is unknown or was revoked; ask an administrator for a new one');
    if (token.expiresAt.getTime() <= Date.now()) throw unauthorized('the join token has expired; ask an administrator for a new one');
    if (token.usesLeft === 0) throw unauthorized('the join token has been used up; ask an administrator for a new one');
    // A node that cannot read the broker's jobs (nor the broker its reports) would only fail every job it is given.
    this.checkContract(body);
    this.checkPublicKey(body);
    if (await this.nodesRepository.findByName(body.name)) throw this.nameTaken(body.name);
    const key = randomToken('gsn');
    let node: Node;
    try {
      node = await this.uow.run({ nodes: NodesRepository }, async ({ nodes }) => {
        if (!(await nodes.useJoinToken(hash))) throw unauthorized('the join token has been used up; ask an administrator for a new one');
        return nodes.create(body.name, body.memoryMb, body.maxGears, tokenHash(key), { publicKey: body.publicKey });
      });
    } catch (err) {
      // Two agents joined under one name at once: the first one holds it, and the second one's token is not spent.
      if (isUniqueViolation(err)) throw this.nameTaken(body.name);
      throw err;
    }
    // The Redis user is made once the node has its id (its queue's name); its password is shown here only.
    const redis = await this.newRedisUser(node.id);
    await this.nodesRepository.reregister(node.id, body.memoryMb, body.maxGears, undefined, { redisPasswordHash: redis.hash });
    await this.nodesRepository.setPlacement(node.id, { zone: body.zone, labels: body.labels });
    this.logger.log(`node ${node.name} (${node.id}) joined with ${body.memoryMb} MB for ${body.maxGears} gears`);
    return { ...this.answer(node), key, redis: redis.credentials };
  }

  private checkContract(body: Registration): void {
    if (body.contractVersion !== JOB_CONTRACT_VERSION) {
      const message = contractMismatch('this node agent', 'the broker', body.contractVersion);
      throw conflict(message, [{ pointer: '/contractVersion', rule: 'job-contract-version', message }]);
    }
  }

  /** A public key, when given, must be one: a node's secrets would otherwise be sealed for nobody. */
  private checkPublicKey(body: Registration): void {
    if (body.publicKey !== undefined && !isNodePublicKey(body.publicKey)) {
      throw invalid('/publicKey', 'node-public-key', 'must be an X25519 public key, 32 bytes in base64url');
    }
  }

  private nameTaken(name: string) {
    const message = `the name ${name} is taken by a registered node; only that node (with its key) can register under it — choose another name, or remove that node first`;
    return conflict(message, [{ pointer: '/name', rule: 'node-name-taken', message }]);
  }

  /** Also the registry's credentials, when it asks for some: the node pulls releases (and builds push them) with them. */
  private answer(node: Node) {
    const { registry, registryAuth } = this.config;
    return {
      id: node.id,
      name: node.name,
      queue: nodeQueue(node.id),
      prefix: this.config.instance,
      ...(registry && registryAuth ? { registry: { server: registry, username: registryAuth.username, password: registryAuth.password } } : {}),
    };
  }
}
