import type { GearUsage, JobTiming } from '@gearshift/cartridges';

/** Docker stats calls a sample makes at once: each takes a moment per container, and the Engine serves the gears too. */
export const USAGE_CONCURRENCY = 4;

/** Job timings kept for the next heartbeat that reaches the broker; older ones are dropped past this. */
export const MAX_JOB_TIMINGS = 500;

/** Runs `fn` over `items`, at most `limit` at a time, keeping their order in the result. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

/**
 * Turns Docker's CPU time per gear into a CPU ratio: the CPU time a gear used between two of the node's samples over
 * the time between them. One non-streaming stats call per gear per sample is enough this way (Docker's own
 * precpu_stats would need a second read per call). A gear seen for the first time, or whose CPU time went back (its
 * container was replaced), has no ratio until its next sample.
 */
export class CpuRatios {
  private last = new Map<string, { cpuSeconds: number; at: number }>();

  /** The sample with its ratio; gears absent from a sample are forgotten, so the map holds running gears only. */
  apply(sample: readonly Omit<GearUsage, 'cpuRatio'>[], at: number): GearUsage[] {
    const next = new Map<string, { cpuSeconds: number; at: number }>();
    const out = sample.map((u) => {
      next.set(u.gearId, { cpuSeconds: u.cpuSeconds, at });
      const prev = this.last.get(u.gearId);
      const seconds = prev ? (at - prev.at) / 1000 : 0;
      if (!prev || seconds <= 0 || u.cpuSeconds < prev.cpuSeconds) return { ...u };
      return { ...u, cpuRatio: Math.round(((u.cpuSeconds - prev.cpuSeconds) / seconds) * 10000) / 10000 };
    });
    this.last = next;
    return out;
  }
}

/** Jobs the node finished, held until a heartbeat carries them to the broker; bounded, the newest kept. */
export class JobTimings {
  private pending: JobTiming[] = [];

  /** A job that ended: `queuedAt` is when the broker queued it, `endedAt` when this node finished it (ms). */
  add(kind: string, queuedAt: number | undefined, endedAt: number | undefined): void {
    if (!queuedAt || !endedAt || endedAt < queuedAt) return;
    this.pending.push({ kind, seconds: (endedAt - queuedAt) / 1000 });
    if (this.pending.length > MAX_JOB_TIMINGS) this.pending.splice(0, this.pending.length - MAX_JOB_TIMINGS);
  }

  /** What to send now; `sent()` drops them once the broker has them, a lost heartbeat leaves them for the next. */
  take(): { jobs: JobTiming[]; sent: () => void } {
    const jobs = this.pending.slice();
    return { jobs, sent: () => this.pending.splice(0, jobs.length) };
  }
}
