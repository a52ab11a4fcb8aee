import type { Series } from './api';

/** A small line chart of one series: its last value, and the line over the window it covers. */
export function LineChart({ title, series, unit, format }: { title: string; series?: Series; unit?: string; format?: (v: number) => string }) {
  const show = format ?? ((v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2)));
  const points = (series ?? []).filter(([t, v]) => Number.isFinite(t) && Number.isFinite(v));
  if (points.length === 0) {
    return (
      <figure class="chart">
        <figcaption>{title}</figcaption>
        <p class="muted">no data yet</p>
      </figure>
    );
  }
  const w = 300;
  const h = 80;
  const t0 = points[0][0];
  const t1 = points[points.length - 1][0];
  const max = Math.max(...points.map(([, v]) => v), 0);
  const min = Math.min(...points.map(([, v]) => v), 0);
  const x = (t: number) => (t1 === t0 ? w : ((t - t0) / (t1 - t0)) * w);
  const y = (v: number) => (max === min ? h / 2 : h - ((v - min) / (max - min)) * (h - 4) - 2);
  const d = points.map(([t, v], i) => `${i ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const last = points[points.length - 1][1];
  return (
    <figure class="chart">
      <figcaption>
        {title}{' '}
        <strong>
          {show(last)}
          {unit ? ` ${unit}` : ''}
        </strong>
      </figcaption>
      <svg
        viewBox={`0 0 ${w} ${h}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`${title}: ${show(last)}${unit ? ` ${unit}` : ''} now, ${show(max)} at most`}
      >
        <path d={d} fill="none" stroke="currentColor" stroke-width="1.5" vector-effect="non-scaling-stroke" />
      </svg>
      <small class="muted">max {show(max)}</small>
    </figure>
  );
}

export function bytes(v: number): string {
  if (v >= 1024 ** 3) return `${(v / 1024 ** 3).toFixed(1)} GiB`;
  if (v >= 1024 ** 2) return `${(v / 1024 ** 2).toFixed(1)} MiB`;
  if (v >= 1024) return `${(v / 1024).toFixed(0)} KiB`;
  return `${v.toFixed(0)} B`;
}
