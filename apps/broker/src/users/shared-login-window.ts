import { createHash, randomBytes } from 'node:crypto';
import type IORedis from 'ioredis';
import { LoginWindow } from './login-window';

/** One failure as counted: what takes it back when the attempt turns out to succeed. */
export interface CountedFailure {
  key: string;
  member: string;
}

/**
 * Failed logins per key within a sliding window, counted in Redis so that every broker behind a load balancer sees
 * the same count (with N brokers counting alone, a guesser would get N times the attempts), and in this broker's own
 * memory as well: when Redis does not answer, the local count still holds. A key's failures are a sorted set of
 * their times that expires with the window; an attempt past the limit is not kept, so a flood of made-up names costs
 * Redis a bounded amount per name, for a minute.
 */
export class SharedLoginWindow {
  private readonly local: LoginWindow;

  constructor(
    private readonly redis: IORedis,
    private readonly prefix: string,
    readonly limit: number,
    readonly windowMs: number,
    maxKeys: number,
    private readonly now: () => number = Date.now,
  ) {
    this.local = new LoginWindow(limit, windowMs, maxKeys, now);
  }

  /**
   * Counts an attempt as failed up front, unless `key` is at its limit: then nothing is counted and the answer is the
   * seconds to wait. One Redis transaction counts and reads, so attempts sent all at once, to one broker or several,
   * are counted one after another and no more than `limit` get through.
   */
  async attempt(key: string): Promise<{ wait: number; failure?: CountedFailure }> {
    const localWait = this.local.retryAfter(key);
    if (localWait > 0) return { wait: localWait };
    this.local.fail(key);
    const now = this.now();
    const failure = { key, member: `${now}-${randomBytes(6).toString('hex')}` };
    const k = this.redisKey(key);
    let flat: string[];
    try {
      const result = await this.redis
        .multi()
        .zremrangebyscore(k, '-inf', now - this.windowMs)
        .zadd(k, now, failure.member)
        .zrange(k, 0, -1, 'WITHSCORES')
        .pexpire(k, this.windowMs)
        .exec();
      flat = (result?.[2]?.[1] ?? []) as string[];
    } catch {
      return { wait: 0, failure }; // Redis away: this broker's own count decided
    }
    const earlier: number[] = [];
    for (let i = 0; i < flat.length; i += 2) if (flat[i] !== failure.member) earlier.push(Number(flat[i + 1]));
    if (earlier.length < this.limit) return { wait: 0, failure };
    await this.undo(failure);
    return { wait: Math.max(1, Math.ceil((earlier[earlier.length - this.limit] + this.windowMs - now) / 1000)) };
  }

  /** Takes back a failure counted up front for an attempt that succeeded. */
  async undo(failure: CountedFailure): Promise<void> {
    this.local.undo(failure.key);
    await this.redis.zrem(this.redisKey(failure.key), failure.member).catch(() => undefined);
  }

  async clear(key: string): Promise<void> {
    this.local.clear(key);
    await this.redis.del(this.redisKey(key)).catch(() => undefined);
  }

  /** Keys of any length and characters (user names, addresses) as short, fixed-length Redis keys. */
  private redisKey(key: string): string {
    return `${this.prefix}:${createHash('sha256').update(key).digest('base64url')}`;
  }
}
