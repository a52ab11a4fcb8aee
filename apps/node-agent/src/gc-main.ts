import { readdirSync, statSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { ConfigError, databaseUrlSetting, instanceSetting, intSetting } from '@gearshift/cartridges';
import { DockerAdapter } from './docker.adapter';
import { collectDisk, formatBytes, gcTable, type GcItem } from './disk-gc';

/**
 * `npm run gc`: disk hygiene of this host, with the facts read from the broker's database (which apps exist, which
 * release images deployments keep). Removes only what carries this instance's labels, and old rotated platform
 * logs; `scripts/gc.sh` adds the registry's garbage collection (GEARSHIFT_GC_REGISTRY_* in the environment).
 */

interface GcSettings {
  instance: string;
  databaseUrl: string;
  buildCacheMb: number;
  logDays: number;
  graceMinutes: number;
  logDir: string;
  dryRun: boolean;
}

function settings(argv: string[], env: NodeJS.ProcessEnv): GcSettings {
  const unknown = argv.filter((a) => a !== '--dry-run');
  if (unknown.length > 0) throw new ConfigError(`unknown option ${unknown[0]} (try --dry-run)`);
  const dataDir = resolve(env.GEARSHIFT_DATA_DIR || env.GEARSHIFT_STATE_DIR || '/var/lib/gearshift');
  return {
    instance: instanceSetting(env),
    databaseUrl: databaseUrlSetting(env),
    buildCacheMb: intSetting(env, 'GEARSHIFT_BUILD_CACHE_MB', 2048, 0, 16 * 1024 * 1024),
    logDays: intSetting(env, 'GEARSHIFT_LOG_DAYS', 14, 0, 3650),
    graceMinutes: intSetting(env, 'GEARSHIFT_GC_GRACE_MINUTES', 60, 0, 7 * 24 * 60),
    logDir: join(dataDir, 'logs'),
    dryRun: argv.includes('--dry-run'),
  };
}

/** The broker's facts. Without them nothing is removed: every app would look deleted. */
async function brokerFacts(databaseUrl: string): Promise<{ apps: string[]; keepImages: string[] }> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const apps = (await db.query<{ id: string }>('select id from apps')).rows.map((r) => r.id);
    const keep = await db.query<{ image: string }>('select image from deployments where image is not null and not pruned');
    return { apps, keepImages: keep.rows.map((r) => r.image) };
  } finally {
    await db.end();
  }
}

/** Rotated platform logs (anything in logs/ but a live `<part>.log`) older than `days`. */
export function oldLogs(dir: string, days: number, now = Date.now()): GcItem[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const items: GcItem[] = [];
  for (const name of names) {
    if (/^[a-z0-9-]+\.log$/.test(name)) continue;
    const file = join(dir, name);
    const st = statSync(file);
    if (st.isFile() && now - st.mtimeMs > days * 86_400_000) items.push({ kind: 'logs', name: file, bytes: st.size });
  }
  return items;
}

async function main(): Promise<void> {
  const s = settings(process.argv.slice(2), process.env);
  const at = Date.now();
  const facts = await brokerFacts(s.databaseUrl).catch((err: Error) => {
    throw new Error(`the broker's database could not be read (DATABASE_URL): ${err.message}; nothing was removed`);
  });
  const docker = new DockerAdapter();
  const items = await collectDisk(
    docker,
    {
      instance: s.instance,
      apps: new Set(facts.apps),
      keepImages: new Set(facts.keepImages),
      buildCacheBytes: s.buildCacheMb * 1024 * 1024,
      before: at,
      graceMs: s.graceMinutes * 60_000,
    },
    s.dryRun,
  );
  for (const log of oldLogs(s.logDir, s.logDays)) {
    if (!s.dryRun) unlinkSync(log.name);
    items.push(log);
  }
  const registryBytes = Number(process.env.GEARSHIFT_GC_REGISTRY_BYTES || 0);
  const registryBlobs = Number(process.env.GEARSHIFT_GC_REGISTRY_BLOBS || 0);
  if (registryBlobs > 0 || registryBytes > 0) items.push({ kind: 'registry', name: `${registryBlobs} blob(s) no image names`, bytes: registryBytes });
  for (const item of items) console.log(`${s.dryRun ? 'would remove' : 'removed'} ${item.kind.replace(/s$/, '')} ${item.name} (${formatBytes(item.bytes)})`);
  console.log(gcTable(items, s.dryRun));
}

if (require.main === module) {
  main().catch((err: Error) => {
    console.error(`gc: ${err.message}`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  });
}
