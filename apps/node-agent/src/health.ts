import { request } from 'node:http';
import { connect } from 'node:net';
import type { HealthSpec } from '@gearshift/cartridges';

/** One probe of a gear's health check; resolves to null when healthy, else to what went wrong. */
export type Probe = () => Promise<string | null>;

export function httpProbe(host: string, port: number, path: string): Probe {
  return () =>
    new Promise((resolve) => {
      const req = request({ host, port, path, method: 'GET', timeout: 2000 }, (res) => {
        res.resume();
        const ok = (res.statusCode ?? 500) < 400;
        resolve(ok ? null : `GET ${path} answered ${res.statusCode}`);
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (err) => resolve(`GET ${path}: ${err.message}`));
      req.end();
    });
}

export function tcpProbe(host: string, port: number): Probe {
  return () =>
    new Promise((resolve) => {
      const socket = connect({ host, port, timeout: 2000 }, () => {
        socket.destroy();
        resolve(null);
      });
      socket.on('timeout', () => socket.destroy(new Error('timed out')));
      socket.on('error', (err) => resolve(`tcp ${port}: ${err.message}`));
    });
}

export interface WaitOptions {
  health: HealthSpec;
  probe: Probe;
  /** Checked between probes: a gear whose container exited will never become healthy. */
  alive: () => Promise<string | null>;
  intervalMs?: number;
}

/** Polls until the probe passes; throws with the last failure once the health check's time is up. */
export async function waitHealthy(o: WaitOptions): Promise<number> {
  const started = Date.now();
  const deadline = started + o.health.timeoutSeconds * 1000;
  let last = 'no answer yet';
  let probes = 0;
  for (;;) {
    const result = await o.probe();
    if (result === null) return Date.now() - started;
    last = result;
    if (++probes % 5 === 0) {
      const dead = await o.alive();
      if (dead) throw new Error(dead);
    }
    if (Date.now() > deadline) throw new Error(`did not pass its health check within ${o.health.timeoutSeconds} s (last: ${last})`);
    await new Promise((r) => setTimeout(r, o.intervalMs ?? 100));
  }
}
