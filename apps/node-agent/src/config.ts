import { hostname, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { ConfigError, instanceSetting, intSetting, registryCredentials, type RegistryCredentials } from '@gearshift/cartridges';

/** The node agent's settings, read and checked once at start-up. */
export interface AgentConfig {
  brokerUrl: string;
  redisUrl: string;
  instance: string;
  nodeName: string;
  joinToken?: string;
  /** Where this host's broker leaves a join token for its own agents (GEARSHIFT_JOIN_TOKEN_FILE); absent when one was given. */
  joinTokenFile?: string;
  memoryMb: number;
  maxGears: number;
  /** The failure domain this host stands in (GEARSHIFT_NODE_ZONE); an app's replicas spread across zones. */
  zone?: string;
  /** What the operator says of this host (GEARSHIFT_NODE_LABELS, `disk=ssd,gpu=none`). */
  labels?: Record<string, string>;
  address: string;
  dataDir: string;
  cartridgesDir: string;
  /** The Debian 12 base image cartridges build FROM (build argument BASE_IMAGE). */
  baseImage: string;
  /** The Debian 13 base image, for cartridges whose manifest says `base: trixie` (build argument BASE_IMAGE_TRIXIE). */
  trixieBaseImage: string;
  imageRepository: string;
  heartbeatMs: number;
  /** GEARSHIFT_USAGE_SAMPLE_MS: how often running gears' CPU and memory are read from Docker for the metrics. */
  usageSampleMs: number;
  /** GEARSHIFT_GEAR_DISK_MB: what a gear may write to its container's own filesystem (not its volumes) before it is replaced. */
  gearDiskMb: number;
  /** GEARSHIFT_GEAR_DISK_CHECK_MS: how often what the running gears wrote is measured. */
  gearDiskCheckMs: number;
  /** GEARSHIFT_GEAR_LOG_MAX_SIZE: the size at which a gear's log file is rotated (the Engine keeps three), as `10m`. */
  gearLogMaxSize: string;
  jobLockMs: number;
  concurrency: number;
  /** GEARSHIFT_BUILD_CONCURRENCY: how many images of one release (its services') a build makes at once. */
  buildConcurrency: number;
  /** A job still running after this long fails and frees its app's turn on this node. */
  jobTimeoutMs: number;
  /** CA certificates builds trust when they fetch dependencies (a proxy's CA, for one). */
  buildCaFile: string;
  /** The platform registry (GEARSHIFT_REGISTRY, host:port) and its credentials when this host's setting has them. */
  registry: string;
  /** Absent: those the broker gives when the node registers (a node on another host has no password file). */
  registryAuth?: RegistryCredentials;
}

export { ConfigError };
const int = intSetting;

const repoRoot = resolve(__dirname, '../../../..');

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const instance = instanceSetting(env);
  const nodeName = env.GEARSHIFT_NODE_NAME || hostname().toLowerCase();
  if (!/^[a-z0-9][a-z0-9.-]{0,62}$/.test(nodeName)) throw new ConfigError(`GEARSHIFT_NODE_NAME must match ^[a-z0-9][a-z0-9.-]{0,62}$, not "${nodeName}"`);
  const dataDir = resolve(env.GEARSHIFT_DATA_DIR || '/var/lib/gearshift');
  let joinToken = env.GEARSHIFT_JOIN_TOKEN || undefined;
  const tokenFile = env.GEARSHIFT_JOIN_TOKEN_FILE || join(dataDir, 'join-token');
  if (!joinToken) {
    try {
      joinToken = readFileSync(tokenFile, 'utf8').trim();
    } catch {
      joinToken = undefined;
    }
  }
  return {
    brokerUrl: (env.GEARSHIFT_BROKER_URL || 'http://127.0.0.1:8080').replace(/\/$/, ''),
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    instance,
    nodeName,
    joinToken,
    ...(env.GEARSHIFT_JOIN_TOKEN ? {} : { joinTokenFile: tokenFile }),
    memoryMb: int(env, 'GEARSHIFT_NODE_MEMORY_MB', Math.floor((totalmem() / 1024 / 1024) * 0.8), 64, 16 * 1024 * 1024),
    maxGears: int(env, 'GEARSHIFT_NODE_MAX_GEARS', 200, 1, 10000),
    ...placementSettings(env),
    address: env.GEARSHIFT_NODE_ADDRESS || '127.0.0.1',
    dataDir,
    cartridgesDir: resolve(env.GEARSHIFT_CARTRIDGES_DIR || join(repoRoot, 'cartridges')),
    baseImage: env.GEARSHIFT_BASE_IMAGE || 'gearshift/base:bookworm',
    trixieBaseImage: env.GEARSHIFT_BASE_IMAGE_TRIXIE || 'gearshift/base:trixie',
    imageRepository: env.GEARSHIFT_IMAGE_REPOSITORY || 'gearshift',
    heartbeatMs: int(env, 'GEARSHIFT_HEARTBEAT_MS', 1000, 200, 60000),
    usageSampleMs: int(env, 'GEARSHIFT_USAGE_SAMPLE_MS', 15000, 500, 600000),
    gearDiskMb: int(env, 'GEARSHIFT_GEAR_DISK_MB', 4096, 16, 16 * 1024 * 1024),
    gearDiskCheckMs: int(env, 'GEARSHIFT_GEAR_DISK_CHECK_MS', 30000, 500, 3600000),
    gearLogMaxSize: logSize(env, 'GEARSHIFT_GEAR_LOG_MAX_SIZE', '10m'),
    jobLockMs: int(env, 'GEARSHIFT_JOB_LOCK_MS', 10000, 2000, 600000),
    concurrency: int(env, 'GEARSHIFT_AGENT_CONCURRENCY', 4, 1, 64),
    buildConcurrency: int(env, 'GEARSHIFT_BUILD_CONCURRENCY', 4, 1, 32),
    jobTimeoutMs: int(env, 'GEARSHIFT_JOB_TIMEOUT_MS', 30 * 60_000, 1000, 24 * 3600_000),
    buildCaFile: env.GEARSHIFT_BUILD_CA_FILE || '/etc/ssl/certs/ca-certificates.crt',
    registry: env.GEARSHIFT_REGISTRY ?? '127.0.0.1:5000',
    registryAuth: registryCredentials(env, dataDir),
  };
}

/** A size as the json-file log driver takes it: a whole number of kilobytes, megabytes or gigabytes (`512k`, `10m`). */
function logSize(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const value = env[name] || fallback;
  const m = /^([1-9][0-9]{0,6})([kmg])$/.exec(value);
  // Below 64 KB a chatty gear rotates on every few lines, and followers spend their time re-attaching.
  if (!m || Number(m[1]) * { k: 1, m: 1024, g: 1024 * 1024 }[m[2] as 'k' | 'm' | 'g'] < 64)
    throw new ConfigError(`${name} must be a size of at least 64k, as 512k, 10m or 1g, not "${value}"`);
  return value;
}

/** GEARSHIFT_NODE_ZONE and GEARSHIFT_NODE_LABELS, checked as the broker checks them; absent when unset. */
export function placementSettings(env: NodeJS.ProcessEnv): { zone?: string; labels?: Record<string, string> } {
  const out: { zone?: string; labels?: Record<string, string> } = {};
  const zone = env.GEARSHIFT_NODE_ZONE;
  if (zone) {
    if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(zone)) throw new ConfigError(`GEARSHIFT_NODE_ZONE must match ^[a-z0-9][a-z0-9._-]{0,62}$, not "${zone}"`);
    out.zone = zone;
  }
  const labels = env.GEARSHIFT_NODE_LABELS;
  if (labels) {
    out.labels = {};
    for (const pair of labels
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)) {
      const m = /^([a-z0-9][a-z0-9._/-]{0,62})=(.{0,63})$/.exec(pair);
      if (!m) throw new ConfigError(`GEARSHIFT_NODE_LABELS must be key=value pairs separated by commas, not "${pair}"`);
      out.labels[m[1]] = m[2];
    }
  }
  return out;
}
