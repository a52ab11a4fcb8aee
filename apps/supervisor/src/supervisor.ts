import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, fchmodSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Backoff, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff';

/** One process to keep running. */
export interface Program {
  name: string;
  command: string;
  args: string[];
}

export interface SupervisorOptions {
  /** `<name>.log` here takes the program's output and the supervisor's lines about it. */
  logDir: string;
  /** `<name>.pid` here holds the running program's pid, `supervisor.pid` the supervisor's. */
  runDir: string;
  backoff?: BackoffPolicy;
  /** How long a stopping program gets between SIGTERM and SIGKILL. */
  stopGraceMs?: number;
}

/** Exit code of a Gearshift process that stopped on a bad setting. */
const EXIT_CONFIG = 2;
/** Logs of the platform are read by root (and its group) only: they name apps, users and addresses. */
const LOG_MODE = 0o640;

/**
 * A small process supervisor for hosts without systemd: starts each program, starts it again when it exits (with
 * backoff if it keeps crashing) and says so in the program's log, and stops them all on SIGTERM or SIGINT.
 */
export class Supervisor {
  private readonly running = new Map<string, ChildProcess>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopping = false;

  constructor(
    private readonly programs: Program[],
    private readonly opts: SupervisorOptions,
  ) {}

  private say(name: string, text: string): void {
    const line = `${new Date().toISOString()} supervisor ${text}\n`;
    try {
      appendFileSync(join(this.opts.logDir, `${name}.log`), line, { mode: LOG_MODE });
    } catch {
      // the log is gone; stdout still has it
    }
    process.stdout.write(`[${name}] ${line}`);
  }

  start(): void {
    mkdirSync(this.opts.logDir, { recursive: true, mode: 0o750 });
    mkdirSync(this.opts.runDir, { recursive: true });
    writeFileSync(join(this.opts.runDir, 'supervisor.pid'), `${process.pid}\n`);
    for (const p of this.programs) this.run(p, new Backoff(this.opts.backoff ?? DEFAULT_BACKOFF));
  }

  private run(p: Program, backoff: Backoff): void {
    if (this.stopping) return;
    const file = join(this.opts.logDir, `${p.name}.log`);
    const log = openSync(file, 'a', LOG_MODE);
    // A log made before logs were private keeps its old mode otherwise.
    fchmodSync(log, LOG_MODE);
    const started = Date.now();
    // The program writes straight to its log file: its output (and that of what it starts, such as HAProxy) does not
    // depend on the supervisor being there to read a pipe.
    const child = spawn(p.command, p.args, { stdio: ['ignore', log, log], env: process.env });
    closeSync(log);
    this.running.set(p.name, child);
    let ended = false;
    const end = (how: string) => {
      if (ended) return;
      ended = true;
      this.running.delete(p.name);
      rmSync(join(this.opts.runDir, `${p.name}.pid`), { force: true });
      if (this.stopping) return;
      const ran = Date.now() - started;
      const delay = backoff.next(ran);
      const loop = backoff.crashesInARow > 1 ? ` (${backoff.crashesInARow} quick exits in a row)` : '';
      // A configuration error can be one that time fixes (an agent started before the broker has written the
      // local join token), so it is retried too, with the same backoff as any crash loop.
      const why = how === `exit code ${EXIT_CONFIG}` ? 'stopped on a configuration error (see above)' : how;
      this.say(p.name, `${p.name} ${why} after ${(ran / 1000).toFixed(1)} s; starting it again in ${delay} ms${loop}`);
      this.timers.set(
        p.name,
        setTimeout(() => this.run(p, backoff), delay),
      );
    };
    child.on('exit', (code, signal) => end(signal ? `was killed by ${signal}` : `exit code ${code}`));
    child.on('error', (err) => end(`could not be started (${err.message})`));
    if (child.pid) {
      writeFileSync(join(this.opts.runDir, `${p.name}.pid`), `${child.pid}\n`);
      this.say(p.name, `started ${p.name} (pid ${child.pid})`);
    }
  }

  /** SIGTERM to every program, SIGKILL to those still there after the grace period; resolves when all are gone. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers.values()) clearTimeout(t);
    const grace = this.opts.stopGraceMs ?? 15_000;
    await Promise.all(
      [...this.running].map(
        ([name, child]) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const kill = setTimeout(() => child.kill('SIGKILL'), grace);
            child.once('exit', () => {
              clearTimeout(kill);
              this.say(name, `stopped ${name}`);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    rmSync(join(this.opts.runDir, 'supervisor.pid'), { force: true });
  }
}
