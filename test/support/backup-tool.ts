import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Platform } from './platform';
import { ROOT } from './processes';
import { registryEnv } from './registry';
import { REDIS_URL } from './stores';

/** Runs `npm run backup`/`restore` (their node command) with the platform's environment, as `npm run up` sets it. */
export function runBackupTool(p: Platform, command: 'backup' | 'restore', file: string, ...flags: string[]) {
  const started = Date.now();
  const r = spawnSync(process.execPath, [join(ROOT, 'dist/apps/backup/src/main.js'), command, file, ...flags], {
    env: {
      ...process.env,
      DATABASE_URL: p.databaseUrl,
      REDIS_URL,
      GEARSHIFT_INSTANCE: p.instance,
      GEARSHIFT_DATA_DIR: p.dataDir,
      GEARSHIFT_PORT: String(p.port),
      GEARSHIFT_ADMIN_PASSWORD: p.adminPassword,
      ...registryEnv(),
    },
    encoding: 'utf8',
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}`, ms: Date.now() - started };
}
