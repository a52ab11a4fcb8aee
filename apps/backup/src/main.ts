import { ConfigError } from '@gearshift/cartridges';
import { backup } from './backup';
import { BackupRefused } from './manifest';
import { restore } from './restore';
import { platformSettings } from './settings';

/**
 * `npm run backup -- FILE` and `npm run restore -- FILE`: the platform named by the environment `npm run up` sets
 * (DATABASE_URL, GEARSHIFT_DATA_DIR, GEARSHIFT_REGISTRY ...), backed up to one archive or restored from it. With
 * `--with-app-data` a backup also takes a snapshot of each app's data through the broker, and a restore, run again
 * once the restored platform is up, puts that data back.
 */
const USAGE = 'usage: npm run backup -- FILE [--with-app-data]\n       npm run restore -- FILE [--with-app-data]';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const files = rest.filter((a) => !a.startsWith('-'));
  const options = rest.filter((a) => a.startsWith('-'));
  const unknown = options.filter((o) => o !== '--with-app-data');
  if (!['backup', 'restore'].includes(command) || files.length !== 1 || unknown.length) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const settings = platformSettings();
  const opts = { withAppData: options.includes('--with-app-data'), env: process.env };
  if (command === 'backup') await backup(files[0], settings, opts);
  else await restore(files[0], settings, opts);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof BackupRefused) {
      process.stderr.write(`error: ${err.message}; nothing was changed\n`);
      process.exit(1);
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`error: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
