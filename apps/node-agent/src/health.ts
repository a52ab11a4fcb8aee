import { request } from 'node:http';
import { connect } from 'node:net';
import type { HealthSpec, HealthStatus } from '@gearshift/cartridges';

/** Why one probe failed. `refused`: nothing took the connection, so nothing listens on the port (yet). */
export interface ProbeFailure {
  message: string;
  refused: boolean;
}

/** One probe of a gear's health check; resolves to null when healthy, else to what went wrong. */
export type Probe = () => Promise<ProbeFailure | null>;

/** Whether an HTTP status passes a check that expects `expected` (absent: any status below 400). */
export function statusPasses(status: number, expected: HealthStatus | undefined): boolean {
  if (expected === 'any') return true;
  if (expected === undefined) return status < 400;
  return status === expected;
}

const expectation = (expected: HealthStatus | undefined): string =>
  expected === undefined ? 'a status below 400' : expected === 'any' ? 'any answer' : `status ${expected}`;

/**
 * After a connection was made: whether the error still means that nothing listens. Docker's port proxy accepts the
 * connection and then resets it when nothing listens behind it.
 */
function refusedBy(err: NodeJS.ErrnoException, viaProxy: boolean): boolean {
  return viaProxy && (err.code === 'ECONNRESET' || err.message === 'socket hang up');
}

export function httpProbe(o: { host: string; port: number; path: string; status?: HealthStatus; viaProxy?: boolean }): Probe {
  return () =>
    new Promise((resolve) => {
      let connected = false;
      // A first request can be slow (a page that opens a database connection, code loaded on first use); the next
      // probe starts only when this one ends, so a generous limit does not pile requests up.
      const req = request({ host: o.host, port: o.port, path: o.path, method: 'GET', timeout: 10_000 }, (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        resolve(statusPasses(status, o.status) ? null : { message: `GET ${o.path} answered ${status}, expected ${expectation(o.status)}`, refused: false });
      });
      // A socket kept alive from an earlier probe is connected already: a listener for a connect that never comes
      // again would stay on it, one more per probe.
      req.on('socket', (s) => (s.connecting ? s.once('connect', () => (connected = true)) : (connected = true)));
      req.on('timeout', () => req.destroy(new Error(connected ? 'no answer within 10 s' : 'could not connect within 10 s')));
      req.on('error', (err: NodeJS.ErrnoException) =>
        resolve({ message: `GET ${o.path}: ${err.message}`, refused: !connected || refusedBy(err, Boolean(o.viaProxy)) }),
      );
      req.end();
    });
}

/** How long a connection through Docker's port proxy must stay open to count: the proxy closes it at once when nothing listens behind. */
export const PROXY_SETTLE_MS = 300;

export function tcpProbe(host: string, port: number, viaProxy = false): Probe {
  return () =>
    new Promise((resolve) => {
      let connected = false;
      const done = (result: ProbeFailure | null) => {
        socket.destroy();
        resolve(result);
      };
      const socket = connect({ host, port, timeout: 2000 }, () => {
        connected = true;
        if (!viaProxy) return done(null);
        // Docker's proxy takes every connection on a published port and then ends or resets it when the container
        // does not; a connection that is still open a moment later reached a listener.
        socket.setTimeout(0);
        const timer = setTimeout(() => done(null), PROXY_SETTLE_MS);
        socket.once('close', () => {
          clearTimeout(timer);
          done({ message: `tcp ${port}: the connection was closed at once (nothing listens in the container)`, refused: true });
        });
        socket.resume();
      });
      socket.on('timeout', () => socket.destroy(new Error('could not connect within 2 s')));
      socket.on('error', (err: NodeJS.ErrnoException) => {
        if (connected && !viaProxy) return;
        resolve({ message: `tcp ${port}: ${err.message}`, refused: true });
      });
    });
}

export interface WaitOptions {
  health: HealthSpec;
  probe: Probe;
  /** Checked between probes: a gear whose container exited will never become healthy. */
  alive: () => Promise<string | null>;
  intervalMs?: number;
}

/**
 * Polls until the probe passes; throws once the health check's time is up. When nothing ever took a connection on the
 * gear's port the error says exactly that, the usual reason a real app fails here (it listens elsewhere, or not yet).
 */
export async function waitHealthy(o: WaitOptions): Promise<number> {
  const started = Date.now();
  const deadline = started + o.health.timeoutSeconds * 1000;
  let last = 'no answer yet';
  let listened = false;
  let probes = 0;
  for (;;) {
    const result = await o.probe();
    if (result === null) return Date.now() - started;
    last = result.message;
    if (!result.refused) listened = true;
    if (++probes % 5 === 0) {
      const dead = await o.alive();
      if (dead) throw new Error(dead);
    }
    if (Date.now() > deadline) {
      const h = o.health;
      if ((h.kind === 'http' || h.kind === 'tcp') && !listened) throw new Error(`nothing listened on ${h.port} within ${h.timeoutSeconds} s`);
      throw new Error(`did not pass its health check within ${h.timeoutSeconds} s (last: ${last})`);
    }
    // Polled fast while nothing listens (cheap, and the gear is healthy the moment it does); an app that answers but
    // not yet as it should is asked again at a gentler pace.
    await new Promise((r) => setTimeout(r, result.refused ? (o.intervalMs ?? 100) : Math.max(o.intervalMs ?? 100, 500)));
  }
}

/**
 * How long a gear with no check of its own (a worker) must keep running before it counts as healthy: one that
 * crashes at start is restarted by Docker again and again, and is running most of the time in between.
 */
export const WORKER_SETTLE_MS = 3000;

/** What a look at a container tells about whether it keeps running. */
export interface ContainerLook {
  state: string;
  exitCode: number;
  restartCount: number;
  /** When Docker last started it (ms since the epoch); absent when the engine does not say. */
  startedAt?: number;
}

/**
 * Resolves once the container has kept running for `settleMs`, neither stopped nor restarted since the first look;
 * throws as soon as it is seen otherwise. The time it ran before the first look counts: a gear that has run for
 * minutes (the old release's, beside which a new one starts) is settled at the next look, not 3 s later.
 */
export async function waitSettled(o: { settleMs: number; look: () => Promise<ContainerLook>; intervalMs?: number }): Promise<number> {
  const started = Date.now();
  const first = await o.look();
  // Since Docker last started it (its restart count is checked below), unless its clock says later than ours.
  const since = first.startedAt !== undefined && first.startedAt < started ? first.startedAt : started;
  const seconds = o.settleMs / 1000;
  for (;;) {
    const now = await o.look();
    if (now.state !== 'running') throw new Error(`did not keep running for ${seconds} s: it is ${now.state} (last exit code ${now.exitCode})`);
    // Docker started it again after an exit: its exit code is reset by then, its restart count is not.
    if (now.restartCount !== first.restartCount || first.state !== 'running')
      throw new Error(`did not keep running for ${seconds} s: it exited and was restarted ${Math.max(1, now.restartCount - first.restartCount)} time(s)`);
    const ms = Date.now() - since;
    if (ms >= o.settleMs) return ms;
    await new Promise((r) => setTimeout(r, Math.min(o.intervalMs ?? 200, o.settleMs - ms)));
  }
}
