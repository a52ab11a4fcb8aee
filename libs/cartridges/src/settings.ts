import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Reading settings from the environment, shared by the broker, node agents and routers: each parses its settings
 * once at start-up, and a bad value stops it with a message naming the variable and the rule.
 */

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function intSetting(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, not "${raw}"`);
  return n;
}

/** GEARSHIFT_INSTANCE: namespaces Redis keys, Docker names and labels, so several platforms can share a host. */
export function instanceSetting(env: NodeJS.ProcessEnv): string {
  const instance = env.GEARSHIFT_INSTANCE || 'gearshift';
  if (!/^[a-z][a-z0-9-]{1,30}$/.test(instance)) throw new ConfigError(`GEARSHIFT_INSTANCE must match ^[a-z][a-z0-9-]{1,30}$, not "${instance}"`);
  return instance;
}

/** The platform registry's user and password: release images are pushed and pulled with them. */
export interface RegistryCredentials {
  username: string;
  password: string;
}

/**
 * The registry's credentials: GEARSHIFT_REGISTRY_USER (default gearshift) with GEARSHIFT_REGISTRY_PASSWORD, or the
 * password in GEARSHIFT_REGISTRY_PASSWORD_FILE, or in registry/password under `dataDir` as `npm run up` makes it.
 * None found: the registry is taken to need none. A password file named but unreadable is a bad setting.
 */
export function registryCredentials(env: NodeJS.ProcessEnv, dataDir: string): RegistryCredentials | undefined {
  const username = env.GEARSHIFT_REGISTRY_USER || 'gearshift';
  if (env.GEARSHIFT_REGISTRY_PASSWORD) return { username, password: env.GEARSHIFT_REGISTRY_PASSWORD };
  const named = env.GEARSHIFT_REGISTRY_PASSWORD_FILE;
  const file = named || join(dataDir, 'registry', 'password');
  let password: string;
  try {
    password = readFileSync(file, 'utf8').trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (named) throw new ConfigError(`GEARSHIFT_REGISTRY_PASSWORD_FILE names ${named}, which cannot be read (${code})`);
    // No file: a registry without a password. One that exists but cannot be read would only fail every push later.
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new ConfigError(`the registry password file ${file} cannot be read (${code}); set GEARSHIFT_REGISTRY_PASSWORD or _PASSWORD_FILE`);
  }
  if (!password) throw new ConfigError(`the registry password file ${file} is empty`);
  return { username, password };
}
