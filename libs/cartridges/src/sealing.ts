import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import type { NodeJobName, NodeJobs } from './jobs';

/**
 * Secret values sealed for one node. Each node makes an X25519 key pair when it joins and gives the broker the public
 * half; every secret a job carries to it (env values, generated passwords, capability URLs) travels as a
 * `sealed:v1:` string that only that node's private key opens. Values are sealed with an ephemeral X25519 key pair,
 * the shared secret goes through HKDF-SHA256 into an AES-256-GCM key, each value gets a random IV of its own, and the
 * GCM tag makes any change to the string fail to open. So Redis, and anyone who reads a queued or failed job, sees no
 * secret. The broker keeps an ephemeral key pair for a node for at most EPHEMERAL_TTL_MS, and the node keeps the keys
 * it derived for the ephemeral keys it saw last: a key generation and an exchange for every job cost a busy broker and
 * its nodes a twentieth of their time (earlier, one for every value cost a tenth). Forward secrecy holds per window:
 * an ephemeral private key leaves memory within a minute.
 */
export const SEALED_V1 = 'sealed:v1:';

const INFO = Buffer.from('gearshift sealed v1');
const RAW_KEY = 32;
const IV = 12;
const TAG = 16;

export interface NodeKeyPair {
  /** The raw public key, base64url: what the broker stores and seals for. */
  publicKey: string;
  /** PKCS#8 PEM: kept in the agent's state file, readable by its owner only. */
  privateKey: string;
}

export function makeNodeKeyPair(): NodeKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  return { publicKey: rawPublic(publicKey), privateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() };
}

/** The public half of a saved private key. */
export function publicKeyOf(privateKeyPem: string): string {
  return rawPublic(createPublicKey(createPrivateKey(privateKeyPem)));
}

const rawPublic = (key: KeyObject) => key.export({ format: 'jwk' }).x as string;
const importPublic = (raw: string) => createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: raw }, format: 'jwk' });

/** Whether a text is a well-formed X25519 public key as makeNodeKeyPair gives it. */
export function isNodePublicKey(raw: unknown): raw is string {
  if (typeof raw !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(raw)) return false;
  try {
    importPublic(raw);
    return true;
  } catch {
    return false;
  }
}

function keyFor(shared: Buffer, ephemeral: Buffer, recipient: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', shared, Buffer.concat([ephemeral, recipient]), INFO, 32));
}

export const isSealed = (value: unknown): value is string => typeof value === 'string' && value.startsWith(SEALED_V1);

/** How long the broker seals for one node with the same ephemeral key pair. */
export const EPHEMERAL_TTL_MS = 60_000;
/** Nodes whose sealer is kept at once; past it, the oldest goes (a platform of more nodes makes key pairs more often). */
const SEALERS_KEPT = 10_000;
const sealers = new Map<string, { seal: (plain: string) => string; until: number }>();

/** The sealer for a node's public key: the one made within EPHEMERAL_TTL_MS, or a new one with a new ephemeral key pair. */
function currentSealer(publicKey: string): (plain: string) => string {
  const now = Date.now();
  const kept = sealers.get(publicKey);
  if (kept && kept.until > now) return kept.seal;
  sealers.delete(publicKey);
  if (sealers.size >= SEALERS_KEPT) sealers.delete(sealers.keys().next().value!);
  const seal = sealerFor(publicKey);
  sealers.set(publicKey, { seal, until: now + EPHEMERAL_TTL_MS });
  return seal;
}

/** Seals values for the node whose public key (base64url) is given, all with one new ephemeral key pair. */
function sealerFor(publicKey: string): (plain: string) => string {
  const pair = generateKeyPairSync('x25519');
  const ephemeral = Buffer.from(rawPublic(pair.publicKey), 'base64url');
  const shared = diffieHellman({ privateKey: pair.privateKey, publicKey: importPublic(publicKey) });
  const key = keyFor(shared, ephemeral, Buffer.from(publicKey, 'base64url'));
  return (plain) => {
    const iv = randomBytes(IV);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return SEALED_V1 + Buffer.concat([ephemeral, iv, cipher.getAuthTag(), body]).toString('base64url');
  };
}

/** Seals one value for the node whose public key (base64url) is given. */
export function sealFor(publicKey: string, plain: string): string {
  return sealerFor(publicKey)(plain);
}

/** A value that is not sealed, does not open with this key, or was changed on the way. */
export class SealError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SealError';
  }
}

/**
 * Opens a value sealed for this node; `what` names it in the error (never the value). `keys` keeps the AES key of
 * each ephemeral public key seen (see derivedKeys).
 */
export function openWith(privateKeyPem: string | KeyObject, sealed: string, what = 'a value', keys?: Map<string, Buffer>): string {
  if (!isSealed(sealed)) throw new SealError(`${what} came in clear where a value sealed for this node was expected; refusing it`);
  const raw = Buffer.from(sealed.slice(SEALED_V1.length), 'base64url');
  if (raw.length < RAW_KEY + IV + TAG) throw new SealError(`${what} is sealed but too short to open`);
  const privateKey = typeof privateKeyPem === 'string' ? createPrivateKey(privateKeyPem) : privateKeyPem;
  const ephemeral = raw.subarray(0, RAW_KEY);
  try {
    const id = ephemeral.toString('base64url');
    let key = keys?.get(id);
    if (!key) {
      const shared = diffieHellman({ privateKey, publicKey: importPublic(id) });
      key = keyFor(shared, ephemeral, recipientOf(privateKey));
      keys?.set(id, key);
    }
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(RAW_KEY, RAW_KEY + IV));
    decipher.setAuthTag(raw.subarray(RAW_KEY + IV, RAW_KEY + IV + TAG));
    return Buffer.concat([decipher.update(raw.subarray(RAW_KEY + IV + TAG)), decipher.final()]).toString('utf8');
  } catch {
    throw new SealError(`${what} does not open with this node's key (sealed for another node, or changed on the way)`);
  }
}

/** The raw public key of each private key opened with, kept as long as the key object lives. */
const recipients = new WeakMap<KeyObject, Buffer>();
function recipientOf(privateKey: KeyObject): Buffer {
  let raw = recipients.get(privateKey);
  if (!raw) {
    raw = Buffer.from(rawPublic(createPublicKey(privateKey)), 'base64url');
    recipients.set(privateKey, raw);
  }
  return raw;
}

/** Ephemeral keys whose derived AES key a node keeps: the broker seals with one for a minute (EPHEMERAL_TTL_MS). */
const DERIVED_KEPT = 64;
/**
 * The AES keys a node derived, by ephemeral public key, for as long as its private key object lives. A map that
 * holds more than DERIVED_KEPT forgets the oldest: several brokers each seal with a key pair of their own.
 */
const derived = new WeakMap<KeyObject, Map<string, Buffer>>();
function derivedKeys(privateKey: KeyObject): Map<string, Buffer> {
  let keys = derived.get(privateKey);
  if (!keys) {
    keys = new Map();
    derived.set(privateKey, keys);
  }
  while (keys.size > DERIVED_KEPT) keys.delete(keys.keys().next().value!);
  return keys;
}

const mapValues = (values: Record<string, string>, f: (v: string, k: string) => string) =>
  Object.fromEntries(Object.entries(values).map(([k, v]) => [k, f(v, k)]));

/**
 * The secret fields of each node job, in one place: how to seal them for a node and open them on it. Every other
 * field travels as it is. A job without secrets maps to itself.
 */
type Transform = (value: string, what: string) => string;
type SecretFields = { [N in NodeJobName]: (data: NodeJobs[N], f: Transform) => NodeJobs[N] };

export const NODE_JOB_SECRETS: SecretFields = {
  'app.converge': (d, f) => ({ ...d, gears: d.gears.map((g) => ({ ...g, env: mapValues(g.env, (v, k) => f(v, `env ${k} of gear ${g.gearId}`)) })) }),
  'app.build': (d, f) => ({
    ...d,
    sourceUrl: f(d.sourceUrl, 'the source URL'),
    ...(d.release ? { release: { ...d.release, env: mapValues(d.release.env, (v, k) => f(v, `release env ${k}`)) } } : {}),
    secrets: d.secrets.map((s, i) => f(s, `secret ${i}`)),
  }),
  'app.snapshot': (d, f) => ({ ...d, uploadUrl: f(d.uploadUrl, 'the upload URL') }),
  'app.restore': (d, f) => ({ ...d, sourceUrl: f(d.sourceUrl, 'the source URL') }),
  'app.writes': (d) => d,
  'app.logs': (d) => d,
  'app.run': (d, f) => ({
    ...d,
    env: mapValues(d.env, (v, k) => f(v, `run env ${k}`)),
    secrets: d.secrets.map((s, i) => f(s, `secret ${i}`)),
  }),
  'app.exec': (d, f) => ({ ...d, secrets: d.secrets.map((s, i) => f(s, `secret ${i}`)) }),
  'app.remove': (d) => d,
  'node.ping': (d) => d,
  'node.fence': (d) => d,
  'node.gc': (d) => d,
};

/**
 * A node job's payload with each of its secret values sealed for the node with this public key. A node that has given
 * no public key (its agent has not registered since this version) is sent no secret: a SealError says so.
 */
export function sealNodeJob<N extends NodeJobName>(name: N, data: NodeJobs[N], publicKey: string | null, node = 'the node'): NodeJobs[N] {
  let seal: ((plain: string) => string) | undefined;
  return NODE_JOB_SECRETS[name](data, (v, what) => {
    if (!publicKey) throw new SealError(`${node} has given no public key to seal ${what} for: its agent must register again with this version`);
    seal ??= currentSealer(publicKey);
    return seal(v);
  });
}

/**
 * A node job's payload with its secret values opened; a value in clear where a sealed one belongs, or one that does
 * not open, throws a SealError (no agent of this version accepts clear secrets: every node has a key pair).
 */
export function openNodeJob<N extends NodeJobName>(name: N, data: NodeJobs[N], privateKey: string | KeyObject): NodeJobs[N] {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  // A key object made here lives for this job only, and its derived keys with it.
  const keys = derivedKeys(key);
  return NODE_JOB_SECRETS[name](data, (v, what) => openWith(key, v, what, keys));
}

/**
 * TLS private keys in the route table. The router runs on the broker's host and reads the platform's secret key
 * (GEARSHIFT_SECRET_KEY, or `secret.key` in the data directory) as the broker does; both derive from it, with HKDF
 * and a label of this use alone, the AES-256-GCM key that seals an alias's certificate and key in Redis. So the
 * routes key holds no PEM private key in clear, and the key that opens it never travels through Redis.
 */
export const SEALED_ROUTE_V1 = 'sealed:route:v1:';

export function routeSealingKey(secretKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', secretKey, Buffer.alloc(0), Buffer.from('gearshift route tls v1'), 32));
}

export function sealRouteSecret(key: Buffer, plain: string): string {
  const iv = randomBytes(IV);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return SEALED_ROUTE_V1 + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

export function openRouteSecret(key: Buffer, sealed: string): string {
  if (!sealed.startsWith(SEALED_ROUTE_V1)) throw new SealError('a certificate of the route table is not sealed; refusing it');
  const raw = Buffer.from(sealed.slice(SEALED_ROUTE_V1.length), 'base64url');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV));
    decipher.setAuthTag(raw.subarray(IV, IV + TAG));
    return Buffer.concat([decipher.update(raw.subarray(IV + TAG)), decipher.final()]).toString('utf8');
  } catch {
    throw new SealError("a certificate of the route table does not open with this platform's secret key");
  }
}
