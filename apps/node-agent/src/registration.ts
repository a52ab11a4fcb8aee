import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JOB_CONTRACT_VERSION, makeNodeKeyPair, publicKeyOf } from '@gearshift/cartridges';
import { ConfigError, type AgentConfig } from './config';

/** A node's own Redis user, given by the broker at join. */
export interface RedisCredentials {
  username: string;
  password: string;
}

/**
 * What the agent keeps in its data directory (mode 0600): its node id and the key it was given when it joined, the
 * private key its secrets are sealed for, and the credentials of its Redis user.
 */
interface SavedIdentity {
  nodeId: string;
  name?: string;
  /** Absent in the files of agents older than node keys. */
  key?: string;
  /** X25519, PKCS#8 PEM. Absent in the files of agents older than sealed secrets: made at the next start. */
  privateKey?: string;
  redis?: RedisCredentials;
  /** The platform registry and its credentials, as the broker last gave them. */
  registry?: RegistryAccess;
}

/** Where release images are pushed and pulled, and the credentials that registry asks for. */
export interface RegistryAccess {
  server: string;
  username: string;
  password: string;
}

interface Answer {
  id: string;
  key?: string;
  redis?: RedisCredentials;
  registry?: RegistryAccess;
}

/** The platform's Redis (its host, port and database), as the node's own user. */
export function redisUrlAs(redisUrl: string, redis: RedisCredentials): string {
  const url = new URL(redisUrl);
  url.username = encodeURIComponent(redis.username);
  url.password = encodeURIComponent(redis.password);
  return url.toString();
}

/** The broker refused: asking again cannot change its answer. */
class Refused extends ConfigError {}

export interface Identity {
  nodeId: string;
  /** Opens the secrets the broker sealed for this node. */
  privateKey: string;
  /** The node's own Redis user (absent only while a node that joined before Redis users waits for its broker). */
  redis?: RedisCredentials;
  /**
   * Settles once the broker has confirmed the node's identity: already settled when it was reachable at start-up;
   * otherwise the agent serves under its saved id meanwhile and this rejects if the broker later refuses it.
   */
  confirmed: Promise<void>;
  /** The registry's credentials from the broker (this run's answer, else the saved one); absent when it needs none. */
  registry?: RegistryAccess;
}

const stateFile = (config: AgentConfig) => join(config.dataDir, 'agents', `${config.instance}-${config.nodeName}.json`);

function readSaved(config: AgentConfig): SavedIdentity | null {
  try {
    const saved = JSON.parse(readFileSync(stateFile(config), 'utf8')) as SavedIdentity;
    return saved.nodeId ? saved : null;
  } catch {
    return null; // not registered yet
  }
}

/** Written whole or not at all, readable by its owner only: the key is the node's identity. */
function save(config: AgentConfig, identity: SavedIdentity): void {
  const file = stateFile(config);
  mkdirSync(join(config.dataDir, 'agents'), { recursive: true });
  const scratch = `${file}.${process.pid}.tmp`;
  writeFileSync(scratch, JSON.stringify(identity), { mode: 0o600 });
  chmodSync(scratch, 0o600);
  renameSync(scratch, file);
}

const sameRegistry = (a?: RegistryAccess, b?: RegistryAccess) => a?.server === b?.server && a?.username === b?.username && a?.password === b?.password;

/** One registration call. A 4xx answer is a refusal; a broker that cannot be reached, or a 5xx, may be asked again. */
async function post(config: AgentConfig, body: Record<string, unknown>): Promise<Answer> {
  const res = await fetch(`${config.brokerUrl}/api/v1/nodes/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      name: config.nodeName,
      memoryMb: config.memoryMb,
      maxGears: config.maxGears,
      contractVersion: JOB_CONTRACT_VERSION,
      ...(config.zone ? { zone: config.zone } : {}),
      ...(config.labels ? { labels: config.labels } : {}),
      ...body,
    }),
    signal: AbortSignal.timeout(10_000),
  });
  const answer = (await res.json().catch(() => ({}))) as { id?: string; key?: string; redis?: RedisCredentials; registry?: RegistryAccess; message?: string };
  if (res.status >= 400 && res.status < 500) throw new Refused(`the broker refused to register this node: ${answer.message ?? res.status}`);
  if (!res.ok || !answer.id) throw new Error(`the broker answered ${res.status}${answer.message ? `: ${answer.message}` : ''}`);
  return { id: answer.id, key: answer.key, redis: answer.redis, registry: answer.registry };
}

/** Asks until the broker answers; a refusal ends the asking. */
async function persist<T>(config: AgentConfig, log: (msg: string) => void, work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      if (attempt % 10 === 1) log(`broker at ${config.brokerUrl} not reachable (${(err as Error).message}); retrying`);
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * attempt)));
    }
  }
}

/** How long a first start waits for the join token its host's broker writes. */
export const JOIN_TOKEN_WAIT_MS = 120_000;

/**
 * The join token of a node that has not joined yet. On a host set up with `npm run up` the broker, started beside the
 * agent, writes one into the data directory when it first starts: the agent waits for it, saying so once, rather than
 * stopping as if it were misconfigured. With no token in time it stops and says how to give one.
 */
export async function waitForJoinToken(
  file: string | undefined,
  log: (msg: string) => void,
  timeoutMs = JOIN_TOKEN_WAIT_MS,
  intervalMs = 500,
): Promise<string> {
  const read = () => {
    try {
      return readFileSync(file!, 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  };
  const deadline = Date.now() + timeoutMs;
  let said = false;
  while (file) {
    const token = read();
    if (token) {
      if (said) log(`found the join token in ${file}: joining`);
      return token;
    }
    if (Date.now() >= deadline) break;
    if (!said) log(`this node has not joined yet: waiting for the join token the broker of this host writes to ${file}`);
    said = true;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new ConfigError('this node has not joined yet: set GEARSHIFT_JOIN_TOKEN (an administrator creates one with POST /api/v1/nodes/tokens)');
}

/**
 * Registers with the broker. A new node joins with a join token and is given a key and a Redis user of its own, kept
 * in the data directory beside its id and the private key of the key pair it made (the public key goes to the
 * broker, which seals the node's secrets for it). A node that joined before authenticates with its id and key each time it starts (no join token needed). An
 * agent whose saved state comes from before node keys (an id, no key) registers once without a key, as the broker
 * allows for nodes it marked as registered before keys, and keeps the key it is given.
 */
export async function register(config: AgentConfig, log: (msg: string) => void): Promise<Identity> {
  const saved = readSaved(config);
  if (saved) {
    // An agent from before sealed secrets makes its key pair now, and keeps it before the broker is told of it.
    if (!saved.privateKey) {
      saved.privateKey = makeNodeKeyPair().privateKey;
      save(config, saved);
    }
    const privateKey = saved.privateKey;
    const publicKey = publicKeyOf(privateKey);
    const again = () =>
      post(config, {
        nodeId: saved.nodeId,
        publicKey,
        ...(saved.key ? { key: saved.key } : {}),
        ...(config.joinToken ? { token: config.joinToken } : {}),
      });
    const keep = (answer: Answer) => {
      if (answer.key || answer.redis || answer.id !== saved.nodeId || !sameRegistry(answer.registry, saved.registry)) {
        // Joined again as a new node: the Redis user of the old one is gone with it.
        const redis = answer.redis ?? (answer.id === saved.nodeId ? saved.redis : undefined);
        saved.redis = redis;
        saved.registry = answer.registry;
        save(config, { nodeId: answer.id, name: config.nodeName, key: answer.key ?? saved.key, privateKey, redis, registry: answer.registry });
      }
      if (!saved.key && answer.key) log(`node ${config.nodeName} registered before node keys: given its key, kept in ${stateFile(config)}`);
      if (answer.id !== saved.nodeId) log(`node ${config.nodeName} (${saved.nodeId}) was no longer registered; joined again as ${answer.id}`);
    };
    try {
      const answer = await again();
      keep(answer);
      return { nodeId: answer.id, privateKey, redis: saved.redis, confirmed: Promise.resolve(), registry: answer.registry };
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      // Gears and queued jobs need not wait for the broker: serve under the saved id, and confirm it once it answers.
      log(`broker at ${config.brokerUrl} not reachable (${(err as Error).message}); serving as node ${saved.nodeId} until it confirms`);
      const hadRedisUser = Boolean(saved.redis);
      const confirmed = persist(config, log, async () => {
        const answer = await again();
        keep(answer);
        if (answer.id !== saved.nodeId) throw new Refused(`this node now has the id ${answer.id}; restarting to serve under it`);
        if (!hadRedisUser && answer.redis) throw new Refused('this node was given a Redis user of its own; restarting to connect as it');
      });
      return { nodeId: saved.nodeId, privateKey, redis: saved.redis, confirmed, registry: saved.registry };
    }
  }
  const token = config.joinToken ?? (await waitForJoinToken(config.joinTokenFile, log));
  const { publicKey, privateKey } = makeNodeKeyPair();
  const answer = await persist(config, log, () => post(config, { token, publicKey }));
  if (!answer.key || !answer.redis) throw new ConfigError('the broker gave this node no key or no Redis user: upgrade the broker');
  save(config, { nodeId: answer.id, name: config.nodeName, key: answer.key, privateKey, redis: answer.redis, registry: answer.registry });
  return { nodeId: answer.id, privateKey, redis: answer.redis, confirmed: Promise.resolve(), registry: answer.registry };
}
