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
