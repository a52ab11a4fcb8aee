import IORedis from 'ioredis';
import { Client } from 'pg';

/** Postgres as an administrator, who creates and drops each test platform's database. */
export const PG_ADMIN_URL = process.env.GEARSHIFT_TEST_PG_URL || 'postgresql://gearshift:gearshift@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

/** The URL of `database` on the same server as the administrator's. */
export const databaseUrl = (database: string) => PG_ADMIN_URL.replace(/\/[^/]*$/, `/${database}`);

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

/** Deletes every Redis key under `prefix:` (the platform's queues and locks). */
export async function clearRedisPrefix(prefix: string): Promise<void> {
  const redis = new IORedis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}
