import { GearshiftError } from './errors';

/**
 * What each user holds open through this broker (log streams, one-off commands), refused past a limit: the next
 * request is 429 with Retry-After and starts nothing. Counts are per broker: they protect the broker's own process.
 */
export class HeldPerUser {
  private readonly held = new Map<string, number>();

  /** Runs `work` as one more of the user's, or throws 429 with `message(held)` when the user holds `limit` already. */
  async run<T>(userId: string, limit: number, message: (held: number) => string, work: () => Promise<T>): Promise<T> {
    const held = this.held.get(userId) ?? 0;
    if (held >= limit) throw new GearshiftError('too_many_requests', message(held), [], { 'Retry-After': '5' });
    this.held.set(userId, held + 1);
    try {
      return await work();
    } finally {
      const left = (this.held.get(userId) ?? 1) - 1;
      if (left > 0) this.held.set(userId, left);
      else this.held.delete(userId);
    }
  }

  /**
   * Takes one more of the user's at once, for work that starts later (a cron run): the function that gives it back,
   * or null when the user holds `limit` already.
   */
  take(userId: string, limit: number): (() => void) | null {
    const held = this.held.get(userId) ?? 0;
    if (held >= limit) return null;
    this.held.set(userId, held + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const left = (this.held.get(userId) ?? 1) - 1;
      if (left > 0) this.held.set(userId, left);
      else this.held.delete(userId);
    };
  }

  /** How many the user holds now. */
  of(userId: string): number {
    return this.held.get(userId) ?? 0;
  }
}
