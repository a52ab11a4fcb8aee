import { connect } from 'node:net';

/** Per backend, from HAProxy's `show stat`: sessions open and queued, and the HTTP requests served so far. */
export interface BackendStats {
  concurrent: number;
  requests: number;
  /** HTTP counters for the broker's metrics, where HAProxy's CSV has them: 5xx answers so far, average response time. */
  http?: HttpStats;
}

export interface HttpStats {
  requests: number;
  errors: number;
  responseMs: number;
}

/** Parses `show stat` CSV into the BACKEND rows, by backend name. */
export function parseStats(csv: string): Map<string, BackendStats> {
  const lines = csv.split('\n').filter((l) => l.trim());
  const header = (lines.shift() ?? '').replace(/^# /, '').split(',');
  const col = (name: string) => header.indexOf(name);
  const [px, sv, scur, qcur, reqTot, stot, http5xx, rtime] = ['pxname', 'svname', 'scur', 'qcur', 'req_tot', 'stot', 'hrsp_5xx', 'rtime'].map(col);
  const out = new Map<string, BackendStats>();
  for (const line of lines) {
    const f = line.split(',');
    if (f[sv] !== 'BACKEND') continue;
    const requests = Number(f[reqTot]) || Number(f[stot]) || 0;
    const stats: BackendStats = { concurrent: (Number(f[scur]) || 0) + (Number(f[qcur]) || 0), requests };
    if (http5xx >= 0) stats.http = { requests, errors: Number(f[http5xx]) || 0, responseMs: Number(f[rtime]) || 0 };
    out.set(f[px], stats);
  }
  return out;
}

/** Asks HAProxy's stats socket for its statistics. */
export function readStats(socketPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let out = '';
    socket.setEncoding('utf8');
    socket.setTimeout(2000, () => socket.destroy(new Error('stats socket timed out')));
    socket.on('connect', () => socket.write('show stat\n'));
    socket.on('data', (c: string) => (out += c));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
  });
}

/**
 * Turns successive samples into traffic per app: concurrency now, the request rate since the last sample, and when
 * the last request was seen. A reload restarts HAProxy's counters; a counter that went down counts from zero.
 */
export class TrafficMeter {
  private last = new Map<string, { requests: number; at: number; lastRequestAt: number }>();
  /** When each app last had a request as an earlier router saw it (see seed). */
  private earlier = new Map<string, number>();

  /**
   * Takes over what an earlier router last reported (app id → time of the last request): a router that starts again
   * does not report every app as never requested, which would have the broker idle busy apps.
   */
  seed(lastRequestAt: Map<string, number>): void {
    this.earlier = lastRequestAt;
  }

  sample(stats: Map<string, BackendStats>, backendToApp: Map<string, string>, now: number, extraRequests: Map<string, number>) {
    const out = new Map<string, { at: number; concurrent: number; rate: number; lastRequestAt: number; http?: HttpStats }>();
    for (const [backend, appId] of backendToApp) {
      const s = stats.get(backend) ?? { concurrent: 0, requests: 0 };
      const prev = this.last.get(appId);
      const delta = (prev ? (s.requests >= prev.requests ? s.requests - prev.requests : s.requests) : 0) + (extraRequests.get(appId) ?? 0);
      const seconds = prev ? Math.max(0.001, (now - prev.at) / 1000) : 1;
      const lastRequestAt = delta > 0 || s.concurrent > 0 ? now : (prev?.lastRequestAt ?? this.earlier.get(appId) ?? 0);
      this.last.set(appId, { requests: s.requests, at: now, lastRequestAt });
      out.set(appId, { at: now, concurrent: s.concurrent, rate: delta / seconds, lastRequestAt, ...(s.http ? { http: s.http } : {}) });
    }
    return out;
  }
}
