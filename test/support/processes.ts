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

/** Ports a test platform's processes listen on: below Linux's ephemeral range (32768 up), see freePort(). */
const PORTS = { from: 20_000, to: 32_000 };

/**
 * A loopback port nothing listens on at the moment, for a process started next. A port the kernel hands out for
 * port 0 comes from the ephemeral range, where any outgoing connection of a busy machine may take it before that
 * process binds it (a broker of a parallel run once failed with EADDRINUSE so): ports below the range are only ever
 * taken by a listener. Each is tried at random, so parallel test files seldom try the same one.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = PORTS.from + Math.floor(Math.random() * (PORTS.to - PORTS.from));
    const free = await new Promise<boolean>((res) => {
      const srv = createServer();
      srv.once('error', () => res(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port from ${PORTS.from} to ${PORTS.to}`);
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
