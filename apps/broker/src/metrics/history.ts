import type { AppTraffic, GearUsage } from '@gearshift/cartridges';

/** How far back the history reaches. */
export const HISTORY_SECONDS = 3600;

/**
 * One step of an app's traffic as stored: [t, requests per second, response time in ms, error rate, and HAProxy's
 * request and 5xx counters at t]. The counters let the next step count what happened in between.
 */
export type AppPoint = [t: number, rps: number, responseMs: number, errorRate: number, requests: number, errors: number];

/** One step of a gear: [t, CPU in percent of one core, memory in bytes]. */
export type GearPoint = [t: number, cpuPercent: number, memoryBytes: number];

export type Series = [unixSeconds: number, value: number][];

/** The answer of GET .../apps/:app/metrics: what the console draws. */
export interface AppMetricsHistory {
  step: number;
  series: { requestsPerSecond: Series; responseTimeMs: Series; errorRate: Series };
  gears: { name: string; node: string; cpuPercent: Series; memoryBytes: Series }[];
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

/**
 * An app's point at `t` from what its router last saw and the app's previous point. Requests per second and the
 * error rate (the share of requests answered 5xx, 0 to 1) count from the previous point's counters; a counter that
 * went down (HAProxy reloaded) counts from zero. The first point, or one after a gap longer than a few steps, takes
 * the router's own last rate.
 */
export function appPoint(t: number, traffic: AppTraffic, prev: AppPoint | undefined, step: number): AppPoint {
  const requests = traffic.http?.requests ?? 0;
  const errors = traffic.http?.errors ?? 0;
  const responseMs = round(traffic.http?.responseMs ?? 0, 1);
  if (!prev || t <= prev[0] || t - prev[0] > 4 * step || !traffic.http) return [t, round(traffic.rate, 3), responseMs, 0, requests, errors];
  const dRequests = requests >= prev[4] ? requests - prev[4] : requests;
  const dErrors = errors >= prev[5] && requests >= prev[4] ? errors - prev[5] : errors;
  const rate = dRequests / (t - prev[0]);
  const errorRate = dRequests > 0 ? Math.min(1, dErrors / dRequests) : 0;
  return [t, round(rate, 3), responseMs, round(errorRate, 4), requests, errors];
}

export function gearPoint(t: number, u: GearUsage): GearPoint {
  return [t, round((u.cpuRatio ?? 0) * 100, 2), u.memoryBytes];
}

/** The stored points of the last `minutes` before `now` (unix seconds), in the answer's shape. */
export function historyAnswer(
  step: number,
  now: number,
  minutes: number,
  app: readonly AppPoint[],
  gears: readonly { name: string; node: string; points: readonly GearPoint[] }[],
): AppMetricsHistory {
  const from = now - minutes * 60;
  const recent = <P extends readonly number[]>(points: readonly P[]) => points.filter((p) => p[0] > from && p[0] <= now);
  const a = recent(app);
  return {
    step,
    series: {
      requestsPerSecond: a.map((p) => [p[0], p[1]]),
      responseTimeMs: a.map((p) => [p[0], p[2]]),
      errorRate: a.map((p) => [p[0], p[3]]),
    },
    gears: gears
      .map((g) => ({ g, points: recent(g.points) }))
      .filter(({ points }) => points.length > 0)
      .map(({ g, points }) => ({
        name: g.name,
        node: g.node,
        cpuPercent: points.map((p): [number, number] => [p[0], p[1]]),
        memoryBytes: points.map((p): [number, number] => [p[0], p[2]]),
      }))
      .sort((x, y) => x.name.localeCompare(y.name)),
  };
}

/** Parses a stored point, or undefined for anything that is not an array of numbers. */
export function parsePoint<P extends number[]>(raw: string | null | undefined): P | undefined {
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw) as unknown;
    return Array.isArray(v) && v.every((x) => typeof x === 'number') ? (v as P) : undefined;
  } catch {
    return undefined;
  }
}
