import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Client } from 'pg';
import { parsePostgresUrl, withoutPostgresPassword, withPostgresDatabase } from '@gearshift/cartridges';
import { loadConfig, repoRoot, type BrokerConfig } from '../../broker/src/config';

/** What a backup or restore acts on: the platform as its broker sees it, from the same environment `npm run up` sets. */
export type PlatformSettings = Pick<BrokerConfig, 'databaseUrl' | 'dataDir' | 'instance' | 'registry' | 'registryAuth' | 'secretKey' | 'host' | 'port'>;

export const platformSettings = (env: NodeJS.ProcessEnv = process.env): PlatformSettings => loadConfig(env);

/**
 * The files of the data directory a backup carries: the secrets key, the first admin's password, the join token, the
 * apps' git repositories, and the identities of the agents that keep theirs here (a node of this host registers
 * again under its own name only with its key).
 */
export const DATA_FILES = ['secret.key', 'admin-password', 'join-token'];
export const DATA_DIRS = ['git', 'agents'];

export const say = (line: string) => process.stdout.write(`==> ${line}\n`);

/**
 * The database's name, and its URL without the password (which goes to pg_dump/pg_restore in PGPASSWORD, not in their
 * arguments). The URL keeps its form: libpq reads a Unix socket from `?host=` or a percent-encoded host as the broker's
 * driver does. The maintenance URL names the `postgres` database of the same server, reached the same way.
 */
export function pgTarget(databaseUrl: string): { database: string; url: string; env: NodeJS.ProcessEnv; maintenanceUrl: string } {
  const { database, password } = parsePostgresUrl(databaseUrl, 'DATABASE_URL');
  return {
    database,
    url: withoutPostgresPassword(databaseUrl),
    env: { ...process.env, PGPASSWORD: password },
    maintenanceUrl: withPostgresDatabase(databaseUrl, 'postgres'),
  };
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Every regular file under `dir`, as paths relative to `base`. */
export function filesUnder(dir: string, base: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path, base));
    else if (entry.isFile()) out.push(relative(base, path));
  }
  return out.sort();
}

export function gearshiftVersion(): { version: string; commit: string | null } {
  const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  let commit: string | null = null;
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    // not a git checkout
  }
  return { version, commit };
}

/** Runs one query against a database and closes the connection. */
export async function query<T>(connectionString: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const pg = new Client({ connectionString });
  await pg.connect();
  try {
    return (await pg.query(sql, params)).rows as T[];
  } finally {
    await pg.end();
  }
}

export const isDir = (path: string) => existsSync(path) && lstatSync(path).isDirectory();

export const megabytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
