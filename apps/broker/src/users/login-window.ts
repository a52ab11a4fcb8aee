/**
 * Failed logins per key (a user name, a client address) within a sliding window. Bounded: past `maxKeys` keys the
 * oldest is forgotten, so a flood of made-up user names costs a fixed amount of memory. A flooder forgetting someone
 * else's count this way still fills the window of its own address.
 */
export class LoginWindow {
  private readonly failures = new Map<string, number[]>();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    readonly maxKeys: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until `key` may try again, or 0 when it may now. */
  retryAfter(key: string): number {
    const recent = this.recent(key);
    if (recent.length < this.limit) return 0;
    return Math.max(1, Math.ceil((recent[recent.length - this.limit] + this.windowMs - this.now()) / 1000));
  }

  fail(key: string): void {
    const recent = this.recent(key);
    recent.push(this.now());
    // Re-inserted at the end: the map's order is the order of last failure, oldest first.
    this.failures.delete(key);
    this.failures.set(key, recent.slice(-this.limit));
    while (this.failures.size > this.maxKeys) this.failures.delete(this.failures.keys().next().value as string);
  }

  /** Takes back the latest failure of `key` (an attempt counted up front that turned out to succeed). */
  undo(key: string): void {
    const held = this.failures.get(key);
    held?.pop();
    if (held?.length === 0) this.failures.delete(key);
  }

  clear(key: string): void {
    this.failures.delete(key);
  }

  get size(): number {
    return this.failures.size;
  }

  private recent(key: string): number[] {
    const since = this.now() - this.windowMs;
    const recent = (this.failures.get(key) ?? []).filter((t) => t > since);
    if (recent.length === 0) this.failures.delete(key);
    return recent;
  }
}
