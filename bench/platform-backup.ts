import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Platform } from '../test/support/platform';
import { removeInstance } from '../test/support/docker';
import { runBackupTool } from '../test/support/backup-tool';
import { dropDatabase } from '../test/support/stores';

type AddRow = (what: string, platform: string, floor: string, ratio: string, goal: string) => void;

const APPS = Number(process.env.BENCH_BACKUP_APPS || 100);
const BATCH = 8;

/**
 * Backup and restore of the platform itself with APPS static apps (made through the API, BATCH at a time): how long
 * `npm run backup` takes and how big its archive is, then how long `npm run restore` takes onto a wiped platform
 * (database dropped, data directory and gears removed), and whether a broker on the restored database has them all.
 */
export async function backupBench(add: AddRow): Promise<void> {
  const p = await Platform.start('bench-backup', { node1: { memoryMb: 64 * 1024, maxGears: 1000 } });
  const work = mkdtempSync(join(tmpdir(), 'gearshift-bench-backup-'));
  const archive = join(work, 'platform.tar.gz');
  const run = (command: 'backup' | 'restore') => {
    const r = runBackupTool(p, command, archive);
    if (r.status !== 0) throw new Error(`npm run ${command} failed:\n${r.output}`);
    return r.ms;
  };
  try {
    await p.api('POST', '/domains', { name: 'keep' });
    const names = Array.from({ length: APPS }, (_, i) => `site${i}`);
    await Promise.all(
      Array.from({ length: BATCH }, async () => {
        for (let name = names.shift(); name; name = names.shift()) {
          const res = await p.api('POST', '/domains/keep/apps?wait=180', { name, cartridges: ['static'] });
          if (res.body.operation?.state !== 'succeeded') throw new Error(`app ${name} failed: ${JSON.stringify(res.body.operation ?? res.body)}`);
        }
      }),
    );
    const backupMs = run('backup');
    const size = statSync(archive).size;

    await p.stopBroker();
    await p.stopAgent('node1');
    await dropDatabase(p.database);
    rmSync(p.dataDir, { recursive: true, force: true });
    await removeInstance(p.instance);
    const restoreMs = run('restore');
    await p.startBroker();
    await p.login();
    const back = (await p.api('GET', '/domains/keep/apps')).body as unknown[];
    add(
      `platform backup, ${APPS} static apps (npm run backup)`,
      `${(backupMs / 1000).toFixed(1)} s`,
      `${size >= 1024 * 1024 ? `${(size / 1024 / 1024).toFixed(1)} MB` : `${Math.ceil(size / 1024)} kB`} archive`,
      '',
      '',
    );
    add(
      `platform restore onto a wiped platform (npm run restore)`,
      `${(restoreMs / 1000).toFixed(1)} s`,
      `${Array.isArray(back) ? back.length : 0} of ${APPS} apps back`,
      '',
      '',
    );
  } finally {
    await p.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
