import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import IORedis from 'ioredis';
import { Client } from 'pg';
import { DEFAULT_DATABASE_URL, withPostgresDatabase } from '@gearshift/cartridges';

/**
 * Postgres as an administrator, who creates and drops each test platform's database: GEARSHIFT_TEST_PG_URL, else the
 * local Postgres over its Unix socket as the platform reaches it by default (a TCP URL works as well).
 */
export const PG_ADMIN_URL = process.env.GEARSHIFT_TEST_PG_URL || withPostgresDatabase(DEFAULT_DATABASE_URL, 'postgres');

/**
 * The platform's Redis, as the broker, router and this host's agent reach it: REDIS_URL when given, else the local
 * Redis with the password scripts/host.sh keeps in the state directory (Redis requires one), else an open local Redis.
 * Written back to the environment, so that a file that reads process.env.REDIS_URL connects the same way.
 */
function platformRedisUrl(): string {
  if (process.env.REDIS_URL) return process.env.REDIS_URL;
  const file = join(process.env.GEARSHIFT_STATE_DIR || '/var/lib/gearshift', 'redis', 'password');
  let password = '';
  try {
    password = readFileSync(file, 'utf8').trim();
  } catch {
    // no password recorded: an open Redis
  }
  const port = process.env.GEARSHIFT_REDIS_PORT || '6379';
  return password ? `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}` : `redis://127.0.0.1:${port}`;
}

export const REDIS_URL = platformRedisUrl();
process.env.REDIS_URL = REDIS_URL;

/** The URL of `database` on the same server as the administrator's, reached the same way (socket or TCP). */
export const databaseUrl = (database: string) => withPostgresDatabase(PG_ADMIN_URL, database);

export async function createDatabase(database: string): Promise<void> {
  const pg = new Client({ connectionString: PG_ADMIN_URL });
  await pg.connect();
  await pg.query(`create database ${database}`);
  await pg.end();
}

export async function dropDatabase(database: string): Promise<void> {
  const pg = new Client({ connectionString: PG_ADMIN_URL });
  await pg.connect();
  // An autovacuum worker on the database belongs to no role the platform's role may signal, so a forced drop
  // can be refused while one runs; it finishes in moments.
  for (let attempt = 0; ; attempt++) {
    try {
      await pg.query(`drop database if exists ${database} with (force)`);
      break;
    } catch (err) {
      if (attempt >= 40 || !['42501', '55006'].includes((err as { code?: string }).code ?? '')) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  await pg.end();
}

/** Deletes every Redis key under `prefix:` (the platform's queues and locks), and the Redis users of its nodes. */
export async function clearRedisPrefix(prefix: string): Promise<void> {
  const redis = new IORedis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  const users = ((await redis.call('ACL', 'USERS')) as string[]).filter((u) => u.startsWith(`${prefix}-node-`));
  if (users.length) await redis.call('ACL', 'DELUSER', ...users);
  redis.disconnect();
}
