/**
 * When a supervised process that exited is started again. A process that ran for a while before it died comes back
 * at once (after `baseMs`); one that keeps dying soon after it starts waits twice as long each time, up to `maxMs`,
 * so a crash loop neither spins the CPU nor floods the log. A run of `stableMs` or more forgives the past crashes.
 */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  stableMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 100, maxMs: 30_000, stableMs: 10_000 };

export class Backoff {
  /** Crashes in a row, each soon after its start. */
  private quickCrashes = 0;

  constructor(private readonly policy: BackoffPolicy = DEFAULT_BACKOFF) {}

  /** The delay before the next start, given how long the run that just ended lasted. */
  next(ranMs: number): number {
    this.quickCrashes = ranMs >= this.policy.stableMs ? 1 : this.quickCrashes + 1;
    return Math.min(this.policy.maxMs, this.policy.baseMs * 2 ** (this.quickCrashes - 1));
  }

  get crashesInARow(): number {
    return this.quickCrashes;
  }
}
