import { appendFileSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { surviveUnexpectedErrors } from '@gearshift/cartridges';
import { Supervisor, type Program } from './supervisor';

/**
 * `node dist/apps/supervisor/src/main.js [--take-over] [broker] [agent] [router]`: runs those parts of Gearshift (all
 * three when none is named) and keeps them running, as `npm run up` does on a host without systemd. Logs go to
 * $GEARSHIFT_DATA_DIR/logs/<part>.log and pids to $GEARSHIFT_DATA_DIR/run/<part>.pid.
 *
 * With --take-over it replaces a platform that runs already (an upgrade): the running supervisor is retired, and the
 * running parts are replaced one at a time in the order named, each new one ready before the old one stops. Each
 * step, then `done` or `failed: why`, is appended to $GEARSHIFT_DATA_DIR/run/take-over for `npm run up` to follow.
 */
const PARTS = { broker: 'broker', agent: 'node-agent', router: 'router' } as const;
type Part = keyof typeof PARTS;

const log = (msg: string) => console.log(`${new Date().toISOString()} supervisor ${msg}`);

function main(): void {
  const takeOver = process.argv[2] === '--take-over';
  const names = process.argv.slice(takeOver ? 3 : 2);
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
  const runDir = join(dataDir, 'run');
  const supervisor = new Supervisor(programs, { logDir: join(dataDir, 'logs'), runDir });
  if (takeOver) replaceRunning(supervisor, programs, runDir);
  else supervisor.start();
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

/** The pid in `run/<name>.pid` when that process runs `script` (and is not this one); otherwise 0. */
function runningPid(runDir: string, name: string, script: string): number {
  try {
    const pid = Number(readFileSync(join(runDir, `${name}.pid`), 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) return 0;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .split('\0')
      .some((arg) => arg.endsWith(script))
      ? pid
      : 0;
  } catch {
    return 0;
  }
}

function replaceRunning(supervisor: Supervisor, programs: Program[], runDir: string): void {
  const status = join(runDir, 'take-over');
  rmSync(status, { force: true });
  const report = (line: string) => {
    log(line);
    appendFileSync(status, `${line}\n`);
  };
  const older = new Map<string, number>();
  for (const p of programs) {
    const pid = runningPid(runDir, p.name, join('apps', PARTS[p.name as Part], 'src', 'main.js'));
    if (pid) older.set(p.name, pid);
  }
  // The running supervisor would start again what is replaced, or stop everything with it when told to stop: it is
  // retired with SIGKILL, which leaves its programs running (they write to their logs, not to it). This supervisor
  // watches them from now on.
  const retired = runningPid(runDir, 'supervisor', join('apps', 'supervisor', 'src', 'main.js'));
  if (retired) {
    process.kill(retired, 'SIGKILL');
    report(`retired the running supervisor (pid ${retired}); replacing ${[...older.keys()].join(', ') || 'nothing'} one at a time`);
  }
  supervisor.takeOver(older, { step: report }).then(
    (result) => report(result.ok ? 'done' : `failed: ${result.failure}`),
    (err: Error) => report(`failed: ${err.message}`),
  );
}

main();
