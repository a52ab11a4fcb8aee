import { Agent } from 'node:http';
import type { Platform } from './platform';

/** What a stream of requests through the router came to: how many were sent, and why each failure failed. */
export interface TrafficTally {
  sent: number;
  failures: string[];
}

/**
 * Requests to `host` through the platform's router at `perSecond`, each on its own as clients send them, on a
 * keep-alive pool: a request fails on any status but 200 or on no answer within `timeoutMs`. `stop` ends the stream
 * and resolves once every request sent has its outcome.
 */
export function routerTraffic(p: Platform, host: string, perSecond: number, timeoutMs = 10_000): { stop(): Promise<TrafficTally> } {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const tally: TrafficTally = { sent: 0, failures: [] };
  const pending: Promise<void>[] = [];
  const pacer = setInterval(() => {
    tally.sent++;
    pending.push(
      p.viaRouter(host, '/', agent, timeoutMs).then(
        (r) => void (r.status !== 200 && tally.failures.push(`status ${r.status} ${r.body.slice(0, 100)}`)),
        (err: Error) => void tally.failures.push(err.message),
      ),
    );
  }, 1000 / perSecond);
  return {
    async stop() {
      clearInterval(pacer);
      await Promise.all(pending);
      agent.destroy();
      return tally;
    },
  };
}
