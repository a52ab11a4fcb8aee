import { ConfigError } from '@gearshift/cartridges';
import { backup } from './backup';
import { BackupRefused } from './manifest';
import { restore } from './restore';
import { platformSettings } from './settings';

/**
 * `npm run backup -- FILE` and `npm run restore -- FILE`: the platform named by the environment `npm run up` sets
 * (DATABASE_URL, GEARSHIFT_DATA_DIR, GEARSHIFT_REGISTRY ...), backed up to one archive or restored from it.
 */
const USAGE = 'usage: npm run backup -- FILE\n       npm run restore -- FILE';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const files = rest.filter((a) => !a.startsWith('-'));
  const options = rest.filter((a) => a.startsWith('-'));
  if (!['backup', 'restore'].includes(command) || files.length !== 1 || options.length) {
    if (options.includes('--with-app-data'))
      process.stderr.write("error: --with-app-data is not supported yet: back up app data with the apps' own snapshots\n");
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const settings = platformSettings();
  if (command === 'backup') await backup(files[0], settings);
  else await restore(files[0], settings);
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
