import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { instanceSetting } from '@gearshift/cartridges';
import { adminToken, DEFAULT_LAB, down, ensureNetwork, up, type LabSettings } from './lab';

/**
 * `npm run lab -- up N`: N lab nodes (separate hosts on this machine, see lab.ts) join the broker over the lab network.
 * `npm run lab -- down`: removes them, their volumes, the network and the nodes' records.
 * `npm run lab -- gateway`: this host's address on the lab network (made when missing), the address the broker, Redis
 * and the registry must listen on for lab nodes to reach them (GEARSHIFT_ADVERTISE_ADDRESS).
 *
 * It reads the platform's settings as `npm run up` sets them: GEARSHIFT_PORT (or GEARSHIFT_LAB_API, the API as this
 * host reaches it), REDIS_URL, GEARSHIFT_REGISTRY, GEARSHIFT_INSTANCE, and GEARSHIFT_TOKEN or the admin password;
 * GEARSHIFT_LAB names another lab than gearshift-lab.
 */
const log = (line: string) => console.log(`lab: ${line}`);
const USAGE = 'usage: npm run lab -- up N | down | gateway';

async function main(): Promise<void> {
  const [command, count] = process.argv.slice(2);
  const env = process.env;
  const root = resolve(__dirname, '../../../..');
  const dataDir = resolve(env.GEARSHIFT_DATA_DIR || '/var/lib/gearshift');
  const brokerPort = Number(env.GEARSHIFT_PORT || 8080);
  const apiUrl = (env.GEARSHIFT_LAB_API || `http://127.0.0.1:${brokerPort}`).replace(/\/$/, '');
  const lab = env.GEARSHIFT_LAB || DEFAULT_LAB;
  if (!/^[a-z][a-z0-9-]{0,40}$/.test(lab)) throw new Error(`GEARSHIFT_LAB must match ^[a-z][a-z0-9-]{0,40}$, not "${lab}"`);
  if (command === 'gateway') {
    console.log(await ensureNetwork(lab));
    return;
  }
  if (command === 'down') {
    const token = await adminToken(apiUrl, env, dataDir).catch((err: Error) => {
      log(`${err.message}: the nodes' records stay at the broker`);
      return '';
    });
    await down({ lab, apiUrl, token, log });
    return;
  }
  if (command !== 'up') throw new Error(USAGE);
  const n = Number(count ?? 1);
  // Each node host runs a Docker Engine of its own: a handful is what one machine holds.
  if (!Number.isInteger(n) || n < 1 || n > 9) throw new Error(`the number of lab nodes must be 1 to 9, not ${count}`);
  const caFile = env.GEARSHIFT_BUILD_CA_FILE || '/etc/ssl/certs/ca-certificates.crt';
  const settings: LabSettings = {
    lab,
    root,
    baseImage: env.GEARSHIFT_BASE_IMAGE || 'gearshift/base:bookworm',
    apiUrl,
    token: await adminToken(apiUrl, env, dataDir),
    brokerPort,
    redisPort: Number(new URL(env.REDIS_URL || 'redis://127.0.0.1:6379').port || 6379),
    registry: env.GEARSHIFT_REGISTRY ?? '127.0.0.1:5000',
    instance: instanceSetting(env),
    caFile: existsSync(caFile) ? caFile : undefined,
    log,
  };
  await up(settings, n);
}

main().catch((err: unknown) => {
  console.error(`gearshift lab: ${(err as Error).message}`);
  process.exit(1);
});
