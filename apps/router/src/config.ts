import { resolve } from 'node:path';

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
}

export class ConfigError extends Error {}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new ConfigError(`${name} must be a port number, not "${raw}"`);
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): RouterConfig {
  const instance = env.GEARSHIFT_INSTANCE || 'gearshift';
  if (!/^[a-z][a-z0-9-]{1,30}$/.test(instance)) throw new ConfigError(`GEARSHIFT_INSTANCE must match ^[a-z][a-z0-9-]{1,30}$, not "${instance}"`);
  const dataDir = resolve(env.GEARSHIFT_DATA_DIR || '/var/lib/gearshift');
  return {
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    instance,
    bind: env.GEARSHIFT_ROUTER_BIND || '127.0.0.1',
    port: port(env, 'GEARSHIFT_ROUTER_PORT', 8000),
    tlsPort: port(env, 'GEARSHIFT_ROUTER_TLS_PORT', 8443),
    runDir: resolve(env.GEARSHIFT_ROUTER_DIR || `${dataDir}/router`),
    haproxy: env.GEARSHIFT_HAPROXY || 'haproxy',
    maxConnections: port(env, 'GEARSHIFT_ROUTER_MAX_CONNECTIONS', 4096),
    // 0: any free port on loopback; only HAProxy talks to it.
    wakerPort: env.GEARSHIFT_ROUTER_WAKER_PORT ? port(env, 'GEARSHIFT_ROUTER_WAKER_PORT', 0) : 0,
    defaultCertificate: env.GEARSHIFT_ROUTER_CERTIFICATE || undefined,
  };
}
