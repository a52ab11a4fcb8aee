import { join, resolve } from 'node:path';
import { surviveUnexpectedErrors } from '@gearshift/cartridges';
import { Supervisor, type Program } from './supervisor';

/**
 * `node dist/apps/supervisor/src/main.js [broker] [agent] [router]`: runs those parts of Gearshift (all three when
 * none is named) and keeps them running, as `npm run up` does on a host without systemd. Logs go to
 * $GEARSHIFT_DATA_DIR/logs/<part>.log and pids to $GEARSHIFT_DATA_DIR/run/<part>.pid.
 */
const PARTS = { broker: 'broker', agent: 'node-agent', router: 'router' } as const;
type Part = keyof typeof PARTS;

const log = (msg: string) => console.log(`${new Date().toISOString()} supervisor ${msg}`);

function main(): void {
  const names = process.argv.slice(2);
  const unknown = names.filter((n) => !(n in PARTS));
  if (unknown.length > 0) {
    console.error(`gearshift supervisor: unknown part(s) ${unknown.join(', ')}; choose from ${Object.keys(PARTS).join(', ')}`);
    process.exit(2);
  }
  const dataDir = resolve(process.env.GEARSHIFT_DATA_DIR || '/var/lib/gearshift');
  const root = resolve(__dirname, '../../..');
  // The flags `npm run up` always used: a small young generation keeps these I/O-bound processes a third smaller; a
  // capped old generation and two malloc arenas make them give memory back after a burst instead of keeping it.
  process.env.MALLOC_ARENA_MAX ??= '2';
  const flags = (process.env.GEARSHIFT_NODE_FLAGS ?? '--max-semi-space-size=1 --max-old-space-size=128').split(' ').filter(Boolean);
  const programs: Program[] = (names.length > 0 ? (names as Part[]) : (Object.keys(PARTS) as Part[])).map((name) => ({
    name,
    command: process.execPath,
    args: [...flags, join(root, 'apps', PARTS[name], 'src', 'main.js')],
  }));
  surviveUnexpectedErrors(log);
  const supervisor = new Supervisor(programs, { logDir: join(dataDir, 'logs'), runDir: join(dataDir, 'run') });
  supervisor.start();
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping ${programs.map((p) => p.name).join(', ')}`);
    supervisor.stop().then(
      () => process.exit(0),
      (err: Error) => {
        log(`stopping failed: ${err.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main();
