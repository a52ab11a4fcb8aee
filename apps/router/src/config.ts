import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, instanceSetting, intSetting } from '@gearshift/cartridges';

/** The router's settings, read and checked once at start-up. */
export interface RouterConfig {
  redisUrl: string;
  instance: string;
  bind: string;
  port: number;
  tlsPort: number;
  runDir: string;
  haproxy: string;
  maxConnections: number;
  wakerPort: number;
  defaultCertificate?: string;
  /** The node agent's name on this host (the same setting and default as the agent's). */
  node: string;
  /** The platform's secret key, as the broker has it: GEARSHIFT_SECRET_KEY, else this file (read when first needed). */
  secretKey: Buffer | { file: string };
}

export { ConfigError };
const port = (env: NodeJS.ProcessEnv, name: string, fallback: number) => intSetting(env, name, fallback, 0, 65535);

export function loadConfig(env: NodeJS.ProcessEnv = process.env): RouterConfig {
  const instance = instanceSetting(env);
  const dataDir = resolve(env.GEARSHIFT_DATA_DIR || '/var/lib/gearshift');
  const secretKey = env.GEARSHIFT_SECRET_KEY ? Buffer.from(env.GEARSHIFT_SECRET_KEY, 'base64') : undefined;
  if (secretKey && secretKey.length !== 32) throw new ConfigError(`GEARSHIFT_SECRET_KEY must be 32 bytes in base64, not ${secretKey.length} bytes`);
  return {
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    instance,
    bind: env.GEARSHIFT_ROUTER_BIND || '127.0.0.1',
    port: port(env, 'GEARSHIFT_ROUTER_PORT', 8000),
    tlsPort: port(env, 'GEARSHIFT_ROUTER_TLS_PORT', 8443),
    runDir: resolve(env.GEARSHIFT_ROUTER_DIR || `${dataDir}/router`),
    haproxy: env.GEARSHIFT_HAPROXY || 'haproxy',
    maxConnections: intSetting(env, 'GEARSHIFT_ROUTER_MAX_CONNECTIONS', 4096, 16, 1_000_000),
    // 0: any free port on loopback; only HAProxy talks to it.
    wakerPort: port(env, 'GEARSHIFT_ROUTER_WAKER_PORT', 0),
    defaultCertificate: env.GEARSHIFT_ROUTER_CERTIFICATE || undefined,
    node: env.GEARSHIFT_NODE_NAME || hostname().toLowerCase(),
    secretKey: secretKey ?? { file: join(dataDir, 'secret.key') },
  };
}
