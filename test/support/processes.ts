import type { ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join, resolve } from 'node:path';

/** The repository, seen from dist/test/support. */
export const ROOT = resolve(__dirname, '../../..');

/** The flags `npm run up` starts the broker and agents with. */
export const NODE_FLAGS = (process.env.GEARSHIFT_NODE_FLAGS ?? '--max-semi-space-size=1 --max-old-space-size=128').split(' ').filter(Boolean);

/**
 * How long a process that is still alive may take to start. Generous: on a loaded machine (tests run side by side)
 * loading the broker's code alone takes seconds, and a crash is caught at once by the liveness check anyway.
 */
export const STARTUP_MS = 90_000;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a truthy value or the time is up. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | null | false>, timeoutMs = 30000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    await sleep(everyMs);
  }
}

/** A loopback port nothing listens on at the moment. */
export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
    srv.on('error', rej);
  });
}

/** A child process of the platform (broker, agent, router, supervisor), keeping the last 400 lines it printed. */
export class Proc {
  readonly output: string[] = [];
  constructor(
    readonly child: ChildProcess,
    readonly label: string,
  ) {
    // GEARSHIFT_TEST_LOG_DIR keeps every line, stamped with the time, for reading a run after it ended.
    const dir = process.env.GEARSHIFT_TEST_LOG_DIR;
    if (dir) mkdirSync(dir, { recursive: true });
    const file = dir ? join(dir, `${label.replace(/[^\w.-]/g, '_')}-${child.pid}.log`) : undefined;
    const keep = (chunk: Buffer) => {
      if (file) appendFileSync(file, chunk.toString().replace(/^(?=.)/gm, `${new Date().toISOString()} `));
      for (const line of chunk.toString().split('\n')) if (line) this.output.push(line);
      if (this.output.length > 400) this.output.splice(0, this.output.length - 400);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }
  get alive() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill(signal);
    await Promise.race([exited, sleep(15000)]);
    if (this.alive) this.child.kill('SIGKILL');
  }
}

/**
 * An address of this host that containers on any Docker network reach (not loopback): nodes that publish there can
 * serve gears of an app on other nodes, as separate hosts would.
 */
export function hostAddress(): string {
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (/^(docker|br-|veth)/.test(name)) continue;
    const v4 = addrs?.find((a) => a.family === 'IPv4' && !a.internal);
    if (v4) return v4.address;
  }
  throw new Error('this host has no non-loopback IPv4 address for nodes to publish on');
}
