import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { ConfigError, databaseUrlSetting, instanceSetting, intSetting, registryCredentials, type RegistryCredentials } from '@gearshift/cartridges';

/** The broker's settings, read and checked once at start-up. A bad value stops the process with its name. */
/**
 * How long a node that is not lost may be silent and still be given gears and be listed ready: the leader does not
 * declare the only reporting node lost, and a busy machine's heartbeat may be late without the node being gone.
 */
export const QUIET_NODE_MS = 15_000;

export interface BrokerConfig {
  host: string;
  /**
   * GEARSHIFT_ADVERTISE_ADDRESS: the address of this host that nodes on other hosts reach (a private network's). The
   * API listens there too, beside GEARSHIFT_HOST; empty: on GEARSHIFT_HOST alone.
   */
  advertiseAddress: string;
  port: number;
  databaseUrl: string;
  redisUrl: string;
  /** Namespaces Redis keys, Docker objects and labels: one platform (or one test run) per instance. */
  instance: string;
  appsDomain: string;
  routerPort: number;
  dataDir: string;
  cartridgesDir: string;
  adminPassword?: string;
  /** The largest JSON or YAML body an authenticated route takes, in bytes. */
  maxJsonBody: number;
  /** The leader marks a node silent for longer lost, and moves its stateless gears (see QUIET_NODE_MS). */
  heartbeatTimeoutMs: number;
  /** GEARSHIFT_METRICS_STEP_SECONDS: the step of the apps' and gears' metrics history (the last hour of it is kept). */
  metricsStepSeconds: number;
  operationTimeoutMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  autoscaleIntervalMs: number;
  scaleUpCooldownMs: number;
  scaleDownCooldownMs: number;
  /** Where release images are pushed, so every node can pull them ("" keeps them on the node that built them). */
  registry: string;
  /**
   * The registry's user and password (GEARSHIFT_REGISTRY_USER, GEARSHIFT_REGISTRY_PASSWORD or _PASSWORD_FILE; else
   * registry/password in the data directory, as `npm run up` makes it). Absent: the registry takes anyone.
   */
  registryAuth?: RegistryCredentials;
  /** The largest source archive a deployment takes, and what it may unpack to. */
  maxUploadBytes: number;
  /** GEARSHIFT_MAX_LOG_STREAMS: log requests one user may have open at once (following ones stay open). */
  maxLogStreams: number;
  /**
   * GEARSHIFT_STREAM_BUFFER: bytes of a stream (a command's output, a log, an operation's progress) the broker holds
   * for one client that reads slower than it comes; past them, lines are dropped and the client is told how many.
   */
  streamBuffer: number;
  /** GEARSHIFT_STREAM_BUFFER_TOTAL: what the broker holds for all such clients together; past it, every stream drops. */
  streamBufferTotal: number;
  maxUnpackedBytes: number;
  /** Releases whose images are kept for rollback (the active one always is). */
  keepReleases: number;
  buildMemoryMb: number;
  buildTimeoutSeconds: number;
  /** GEARSHIFT_RUN_TIMEOUT_SECONDS: how long a one-off command (`gearshift run`) may run before it is killed. */
  runTimeoutSeconds: number;
  /** GEARSHIFT_MAX_RUNS: one-off commands one user may have running at once; an app's cron runs count among its deployer's. */
  maxRuns: number;
  /** GEARSHIFT_CRON_MIN_INTERVAL_S: the least time between two runs of a cron entry (default a minute, cron's granularity). */
  cronMinIntervalS: number;
  /** GEARSHIFT_RUN_DISK_MB: what a one-off command may write to its container's filesystem before it is killed. */
  runDiskMb: number;
  /** GEARSHIFT_MAX_CONNECTIONS: connections the API holds open at once; more are closed at once. */
  maxConnections: number;
  /** GEARSHIFT_MAX_CONNECTIONS_PER_ADDRESS: connections one client address holds open at once. */
  maxConnectionsPerAddress: number;
  /** Docker build cache each node keeps; disk hygiene prunes what is over it. */
  buildCacheMb: number;
  /** Hours between the leader's disk hygiene runs on every node (0: never). */
  gcHours: number;
  /** Images younger than this are left by disk hygiene (builds in progress). */
  gcGraceMinutes: number;
  /** How long retired gears keep running after the routers stopped sending them requests. */
  drainMs: number;
  /** How long an operation that changed routes waits for every router to serve them before it ends with a warning. */
  routesAckTimeoutMs: number;
  /** GEARSHIFT_SECRET_KEY: the key that seals secrets in Postgres (else secret.key in the data directory). */
  secretKey?: Buffer;
  /** GEARSHIFT_FETCH_ALLOW: addresses a git source may be fetched from although they are not public (see deployments/fetch-policy.ts). */
  fetchAllow: string;
  /** GEARSHIFT_AUDIT_DAYS: how long audit events are kept. */
  auditDays: number;
  /** GEARSHIFT_TEAM_MAX_GEARS / GEARSHIFT_TEAM_MAX_MEMORY_MB: the quota a new team starts with (null: unlimited). */
  teamMaxGears: number | null;
  teamMaxMemoryMb: number | null;
  /**
   * GEARSHIFT_METRICS_TOKEN: the bearer token that reads GET /metrics from anywhere. Unset, /metrics answers clients
   * on this host's loopback alone.
   */
  metricsToken?: string;
}

export { ConfigError, type RegistryCredentials };
const int = intSetting;

function url(env: NodeJS.ProcessEnv, name: string, fallback: string, protocols: string[]): string {
  const raw = env[name] || fallback;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    // Its credentials are not repeated: a log holds no password.
    throw new ConfigError(`${name} must be a URL, not "${raw.replace(/\/\/[^/]*@/, '//***@')}"`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must use ${protocols.join(' or ')}, not ${parsed.protocol}`);
  }
  return raw;
}

function registrySetting(env: NodeJS.ProcessEnv): string {
  const raw = env.GEARSHIFT_REGISTRY ?? '127.0.0.1:5000';
  if (raw !== '' && !/^[a-z0-9.-]+(:[0-9]{1,5})?$/i.test(raw)) throw new ConfigError(`GEARSHIFT_REGISTRY must be host:port (or empty for none), not "${raw}"`);
  return raw;
}

/** A size such as "256kb", "1mb" or "4096" (bytes), from 1 KB to 64 MB. */
function byteSize(env: NodeJS.ProcessEnv, name: string, fallback: string): number {
  const raw = env[name] || fallback;
  const m = /^(\d+)\s*(b|kb|mb)?$/i.exec(raw.trim());
  const bytes = m ? Number(m[1]) * { b: 1, kb: 1024, mb: 1024 * 1024 }[(m[2] ?? 'b').toLowerCase() as 'b'] : NaN;
  if (!(bytes >= 1024 && bytes <= 64 * 1024 * 1024)) throw new ConfigError(`${name} must be a size from 1kb to 64mb (such as 256kb), not "${raw}"`);
  return bytes;
}

export const repoRoot = resolve(__dirname, '../../../..');

export function loadConfig(env: NodeJS.ProcessEnv = process.env): BrokerConfig {
  const instance = instanceSetting(env);
  const logLevel = (env.GEARSHIFT_LOG_LEVEL || 'info') as BrokerConfig['logLevel'];
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    throw new ConfigError(`GEARSHIFT_LOG_LEVEL must be debug, info, warn or error, not "${logLevel}"`);
  }
  const secretKey = env.GEARSHIFT_SECRET_KEY ? Buffer.from(env.GEARSHIFT_SECRET_KEY, 'base64') : undefined;
  if (secretKey && secretKey.length !== 32) {
    throw new ConfigError(`GEARSHIFT_SECRET_KEY must be 32 bytes in base64 (openssl rand -base64 32), not ${secretKey.length} bytes`);
  }
  const appsDomain = env.GEARSHIFT_APPS_DOMAIN || 'localhost';
  const dataDir = resolve(env.GEARSHIFT_DATA_DIR || '/var/lib/gearshift');
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(appsDomain)) {
    throw new ConfigError(`GEARSHIFT_APPS_DOMAIN must be a DNS name, not "${appsDomain}"`);
  }
  const metricsToken = env.GEARSHIFT_METRICS_TOKEN || undefined;
  if (metricsToken && !/^[\x21-\x7e]{16,256}$/.test(metricsToken)) {
    throw new ConfigError('GEARSHIFT_METRICS_TOKEN must be 16 to 256 printable characters without spaces (openssl rand -hex 24 makes one)');
  }
  const advertiseAddress = env.GEARSHIFT_ADVERTISE_ADDRESS ?? '';
  if (advertiseAddress && !isIP(advertiseAddress)) {
    throw new ConfigError(`GEARSHIFT_ADVERTISE_ADDRESS must be an IP address of this host (or empty), not "${advertiseAddress}"`);
  }
  return {
    host: env.GEARSHIFT_HOST || '127.0.0.1',
    advertiseAddress,
    port: int(env, 'GEARSHIFT_PORT', 8080, 0, 65535),
    // The local Postgres over its Unix socket unless DATABASE_URL names another: a query costs the broker less CPU
    // there than over loopback TCP. A TCP URL (a remote Postgres, an operator's own) works as ever.
    databaseUrl: databaseUrlSetting(env),
    redisUrl: url(env, 'REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']),
    instance,
    appsDomain,
    routerPort: int(env, 'GEARSHIFT_ROUTER_PORT', 8000, 1, 65535),
    dataDir,
    cartridgesDir: resolve(env.GEARSHIFT_CARTRIDGES_DIR || join(repoRoot, 'cartridges')),
    adminPassword: env.GEARSHIFT_ADMIN_PASSWORD || undefined,
    maxJsonBody: byteSize(env, 'GEARSHIFT_MAX_JSON_BODY', '256kb'),
    heartbeatTimeoutMs: int(env, 'GEARSHIFT_HEARTBEAT_TIMEOUT_MS', 3000, 1000, 600000),
    metricsStepSeconds: int(env, 'GEARSHIFT_METRICS_STEP_SECONDS', 15, 1, 300),
    operationTimeoutMs: int(env, 'GEARSHIFT_OPERATION_TIMEOUT_MS', 15 * 60000, 5000, 24 * 3600000),
    logLevel,
    autoscaleIntervalMs: int(env, 'GEARSHIFT_AUTOSCALE_INTERVAL_MS', 2000, 100, 600000),
    scaleUpCooldownMs: int(env, 'GEARSHIFT_SCALE_UP_COOLDOWN_MS', 10000, 0, 3600000),
    scaleDownCooldownMs: int(env, 'GEARSHIFT_SCALE_DOWN_COOLDOWN_MS', 60000, 0, 3600000),
    registry: registrySetting(env),
    registryAuth: registrySetting(env) ? registryCredentials(env, dataDir) : undefined,
    maxUploadBytes: int(env, 'GEARSHIFT_MAX_UPLOAD_MB', 100, 1, 10240) * 1024 * 1024,
    maxLogStreams: int(env, 'GEARSHIFT_MAX_LOG_STREAMS', 10, 1, 1000),
    streamBuffer: byteSize(env, 'GEARSHIFT_STREAM_BUFFER', '2mb'),
    streamBufferTotal: byteSize(env, 'GEARSHIFT_STREAM_BUFFER_TOTAL', '32mb'),
    maxUnpackedBytes: int(env, 'GEARSHIFT_MAX_UNPACKED_MB', 500, 1, 102400) * 1024 * 1024,
    keepReleases: int(env, 'GEARSHIFT_KEEP_RELEASES', 5, 1, 100),
    buildMemoryMb: int(env, 'GEARSHIFT_BUILD_MEMORY_MB', 2048, 128, 65536),
    buildTimeoutSeconds: int(env, 'GEARSHIFT_BUILD_TIMEOUT_SECONDS', 900, 10, 24 * 3600),
    runTimeoutSeconds: int(env, 'GEARSHIFT_RUN_TIMEOUT_SECONDS', 3600, 1, 24 * 3600),
    maxRuns: int(env, 'GEARSHIFT_MAX_RUNS', 3, 1, 100),
    cronMinIntervalS: int(env, 'GEARSHIFT_CRON_MIN_INTERVAL_S', 60, 1, 24 * 3600),
    runDiskMb: int(env, 'GEARSHIFT_RUN_DISK_MB', 2048, 16, 1024 * 1024),
    maxConnections: int(env, 'GEARSHIFT_MAX_CONNECTIONS', 4096, 16, 1_000_000),
    maxConnectionsPerAddress: int(env, 'GEARSHIFT_MAX_CONNECTIONS_PER_ADDRESS', 1024, 4, 1_000_000),
    buildCacheMb: int(env, 'GEARSHIFT_BUILD_CACHE_MB', 2048, 0, 16 * 1024 * 1024),
    gcHours: int(env, 'GEARSHIFT_GC_HOURS', 24, 0, 24 * 365),
    gcGraceMinutes: int(env, 'GEARSHIFT_GC_GRACE_MINUTES', 60, 0, 7 * 24 * 60),
    drainMs: int(env, 'GEARSHIFT_DRAIN_MS', 2000, 0, 600000),
    routesAckTimeoutMs: int(env, 'GEARSHIFT_ROUTES_ACK_TIMEOUT_MS', 10000, 0, 600000),
    secretKey,
    fetchAllow: env.GEARSHIFT_FETCH_ALLOW ?? '',
    auditDays: int(env, 'GEARSHIFT_AUDIT_DAYS', 90, 1, 3650),
    teamMaxGears: env.GEARSHIFT_TEAM_MAX_GEARS ? int(env, 'GEARSHIFT_TEAM_MAX_GEARS', 0, 0, 1_000_000) : null,
    teamMaxMemoryMb: env.GEARSHIFT_TEAM_MAX_MEMORY_MB ? int(env, 'GEARSHIFT_TEAM_MAX_MEMORY_MB', 0, 0, 1_000_000) : null,
    metricsToken,
  };
}

export const BROKER_CONFIG = Symbol('BROKER_CONFIG');
