import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, fchmodSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/** Limits of a take-over (see Supervisor.takeOver). */
export interface TakeOverOptions {
  /** How long a new copy gets to report itself ready (and healthy) while the older copy runs. */
  readyMs?: number;
  /** How long it gets, once the older copy stopped, to do all of its work (the broker: to take the port). */
  servingMs?: number;
  /** Told each step, for the operator. */
  step?: (line: string) => void;
}

/** How a take-over of one program ended. */
export interface TakeOverResult {
  ok: boolean;
  /** What went wrong, naming the program; the older copy keeps running when it is not yet stopped. */
  failure?: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A ready report (libs/cartridges take-over.ts) of `pid`, checked against its health endpoint when it names one. */
async function readyReport(file: string, pid: number, serving: boolean): Promise<boolean> {
  let report: { pid?: unknown; serving?: unknown; healthUrl?: unknown };
  try {
    report = JSON.parse(readFileSync(file, 'utf8')) as typeof report;
  } catch {
    return false;
  }
  if (report.pid !== pid || (serving && report.serving !== true)) return false;
  if (typeof report.healthUrl !== 'string') return true;
  const res = await fetch(report.healthUrl, { signal: AbortSignal.timeout(5000) }).catch(() => null);
  await res?.body?.cancel();
  return res?.status === 200;
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
  /** Older copies of programs, started by an earlier supervisor, watched until they are replaced or exit. */
  private readonly adopted = new Map<string, { pid: number; watch: NodeJS.Timeout }>();
  /** Programs not to start again when they exit: a new copy that is still proving itself. */
  private readonly held = new Set<string>();
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
    this.begin();
    for (const p of this.programs) this.run(p, this.backoff());
  }

  private begin(): void {
    mkdirSync(this.opts.logDir, { recursive: true, mode: 0o750 });
    mkdirSync(this.opts.runDir, { recursive: true });
    writeFileSync(join(this.opts.runDir, 'supervisor.pid'), `${process.pid}\n`);
  }

  private backoff(): Backoff {
    return new Backoff(this.opts.backoff ?? DEFAULT_BACKOFF);
  }

  /**
   * Replaces running copies of the programs (`older`: pid by name, started by an earlier supervisor, perhaps of an
   * earlier version) one at a time, in the order the programs were given: each new copy is started beside the old
   * one and must report itself ready, and healthy where it has a health endpoint, before the old one is stopped.
   * A program with no older copy is simply started. The first that fails stops the take-over: its older copy keeps
   * running, watched (a new copy starts if it exits), and so do the programs after it.
   */
  async takeOver(older: Map<string, number>, opts: TakeOverOptions = {}): Promise<TakeOverResult> {
    this.begin();
    const step = opts.step ?? (() => undefined);
    for (const p of this.programs) {
      const pid = older.get(p.name);
      if (pid && alive(pid)) this.adopt(p, pid);
    }
    for (const [index, p] of this.programs.entries()) {
      const result = await this.replace(p, opts, step);
      if (!result.ok) {
        for (const rest of this.programs.slice(index + 1)) if (!this.adopted.has(rest.name)) this.run(rest, this.backoff());
        return result;
      }
    }
    return { ok: true };
  }

  private async replace(p: Program, opts: TakeOverOptions, step: (line: string) => void): Promise<TakeOverResult> {
    const old = this.adopted.get(p.name)?.pid;
    if (!old) {
      this.run(p, this.backoff());
      step(`${p.name}: none was running; started one`);
      return { ok: true };
    }
    const readyFile = join(this.opts.runDir, `${p.name}.ready`);
    rmSync(readyFile, { force: true });
    const started = Date.now();
    this.held.add(p.name);
    const child = this.run(p, this.backoff(), { GEARSHIFT_READY_FILE: readyFile, GEARSHIFT_TAKING_OVER: '1' });
    const exited = () => !child || child.exitCode !== null || child.signalCode !== null;
    const wait = async (serving: boolean, ms: number): Promise<string | null> => {
      const until = Date.now() + ms;
      for (;;) {
        if (exited()) return `the new ${p.name} exited (${child?.signalCode ?? `exit code ${child?.exitCode}`}); see its log`;
        if (await readyReport(readyFile, child!.pid!, serving)) return null;
        if (Date.now() > until) return `the new ${p.name} did not report itself ${serving ? 'serving' : 'ready and healthy'} within ${ms / 1000} s`;
        await sleep(200);
      }
    };
    const notReady = await wait(false, opts.readyMs ?? 180_000);
    if (notReady) {
      this.held.delete(p.name);
      if (!exited()) await this.end(p.name, child!);
      // The older copy serves on; the pid file names it again.
      writeFileSync(join(this.opts.runDir, `${p.name}.pid`), `${old}\n`);
      const failure = `${notReady}; the running ${p.name} (pid ${old}) was left as it is`;
      this.say(p.name, failure);
      return { ok: false, failure };
    }
    step(`${p.name}: the new one (pid ${child!.pid}) is ready after ${((Date.now() - started) / 1000).toFixed(1)} s; stopping the old one (pid ${old})`);
    this.say(p.name, `stopping the ${p.name} it replaces (pid ${old})`);
    await this.stopAdopted(p.name);
    const notServing = await wait(true, opts.servingMs ?? 60_000);
    this.held.delete(p.name);
    if (notServing) {
      if (exited()) this.run(p, this.backoff());
      this.say(p.name, notServing);
      return { ok: false, failure: notServing };
    }
    step(`${p.name}: replaced in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return { ok: true };
  }

  /** Watches an older copy of `p`; should it exit before it is replaced, a new copy starts in its place. */
  private adopt(p: Program, pid: number): void {
    const watch = setInterval(() => {
      if (alive(pid)) return;
      clearInterval(watch);
      if (this.adopted.get(p.name)?.pid !== pid) return;
      this.adopted.delete(p.name);
      if (this.stopping || this.running.has(p.name) || this.held.has(p.name)) return;
      this.say(p.name, `the earlier ${p.name} (pid ${pid}) exited; starting ${p.name}`);
      this.run(p, this.backoff());
    }, 500);
    this.adopted.set(p.name, { pid, watch });
    this.say(p.name, `watching the running ${p.name} (pid ${pid}) until it is replaced`);
  }

  /** SIGTERM to an older copy, SIGKILL after the grace period; resolves once it is gone. */
  private async stopAdopted(name: string): Promise<void> {
    const entry = this.adopted.get(name);
    if (!entry) return;
    this.adopted.delete(name);
    clearInterval(entry.watch);
    const killAt = Date.now() + (this.opts.stopGraceMs ?? 15_000);
    try {
      process.kill(entry.pid, 'SIGTERM');
    } catch {
      return;
    }
    while (alive(entry.pid)) {
      if (Date.now() > killAt) {
        try {
          process.kill(entry.pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      await sleep(50);
    }
    this.say(name, `stopped the earlier ${name} (pid ${entry.pid})`);
  }

  /** Stops one of the supervisor's own programs (a new copy that failed to prove itself). */
  private end(name: string, child: ChildProcess): Promise<void> {
    return new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), this.opts.stopGraceMs ?? 15_000);
      child.once('exit', () => {
        clearTimeout(kill);
        this.say(name, `stopped the new ${name}`);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  private run(p: Program, backoff: Backoff, env: NodeJS.ProcessEnv = {}): ChildProcess | undefined {
    if (this.stopping) return undefined;
    const file = join(this.opts.logDir, `${p.name}.log`);
    const log = openSync(file, 'a', LOG_MODE);
    // A log made before logs were private keeps its old mode otherwise.
    fchmodSync(log, LOG_MODE);
    const started = Date.now();
    // The program writes straight to its log file: its output (and that of what it starts, such as HAProxy) does not
    // depend on the supervisor being there to read a pipe.
    const child = spawn(p.command, p.args, { stdio: ['ignore', log, log], env: { ...process.env, ...env } });
    closeSync(log);
    this.running.set(p.name, child);
    let ended = false;
    const end = (how: string) => {
      if (ended) return;
      ended = true;
      this.running.delete(p.name);
      rmSync(join(this.opts.runDir, `${p.name}.pid`), { force: true });
      if (this.stopping || this.held.has(p.name)) return;
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
    return child;
  }

  /** SIGTERM to every program, SIGKILL to those still there after the grace period; resolves when all are gone. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers.values()) clearTimeout(t);
    const grace = this.opts.stopGraceMs ?? 15_000;
    await Promise.all([...this.adopted.keys()].map((name) => this.stopAdopted(name)));
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
