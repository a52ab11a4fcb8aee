import { registryCredentials } from '@gearshift/cartridges';

/**
 * The platform registry the tests push to and read, as the broker finds it: GEARSHIFT_REGISTRY, and its credentials
 * from GEARSHIFT_REGISTRY_USER / _PASSWORD / _PASSWORD_FILE or the password `npm run up` keeps in the state directory.
 */
export const REGISTRY = process.env.GEARSHIFT_REGISTRY ?? '127.0.0.1:5000';
export const REGISTRY_AUTH = REGISTRY ? registryCredentials(process.env, process.env.GEARSHIFT_STATE_DIR || '/var/lib/gearshift') : undefined;

/** The Authorization header of a call to the registry's HTTP API (none when it takes anyone). */
export function registryHeaders(): Record<string, string> {
  if (!REGISTRY_AUTH) return {};
  return { authorization: `Basic ${Buffer.from(`${REGISTRY_AUTH.username}:${REGISTRY_AUTH.password}`).toString('base64')}` };
}

/** dockerode's credentials for a push to the registry. */
export const registryAuthconfig = () => (REGISTRY_AUTH ? { username: REGISTRY_AUTH.username, password: REGISTRY_AUTH.password, serveraddress: REGISTRY } : {});

/** What the broker is started with: the credentials, which it hands to each node that registers. */
export function registryEnv(): Record<string, string> {
  return REGISTRY_AUTH ? { GEARSHIFT_REGISTRY_USER: REGISTRY_AUTH.username, GEARSHIFT_REGISTRY_PASSWORD: REGISTRY_AUTH.password } : {};
}
