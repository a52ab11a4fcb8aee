import { table } from './output';

type Series = [unixSeconds: number, value: number][];

/** GET .../apps/:app/metrics */
export interface AppMetrics {
  step: number;
  series: { requestsPerSecond: Series; responseTimeMs: Series; errorRate: Series };
  gears: { name: string; node: string; cpuPercent: Series; memoryBytes: Series }[];
}

const latest = (s: Series): number | undefined => s[s.length - 1]?.[1];
const fixed = (v: number | undefined, digits: number, unit = '') => (v === undefined ? '-' : `${v.toFixed(digits)}${unit}`);
const mib = (bytes: number | undefined) => (bytes === undefined ? '-' : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);

/** The latest value of each series: the app's traffic, then a row per gear. */
export function metricsView(m: AppMetrics): string {
  const at = m.series.requestsPerSecond[m.series.requestsPerSecond.length - 1]?.[0];
  const traffic = table(
    [
      {
        'requests/s': fixed(latest(m.series.requestsPerSecond), 2),
        'response time': fixed(latest(m.series.responseTimeMs), 0, ' ms'),
        errors: fixed(percent(latest(m.series.errorRate)), 1, ' %'),
        at: at === undefined ? 'no traffic seen yet' : new Date(at * 1000).toISOString(),
      },
    ],
    ['requests/s', 'response time', 'errors', 'at'],
  );
  const gears = table(
    m.gears.map((g) => ({ gear: g.name, node: g.node, cpu: fixed(latest(g.cpuPercent), 1, ' %'), memory: mib(latest(g.memoryBytes)) })),
    ['gear', 'node', 'cpu', 'memory'],
  );
  return `${traffic}\n\n${gears}`;
}

const percent = (ratio: number | undefined) => (ratio === undefined ? undefined : ratio * 100);
