/**
 * Where a followed container log has got to, by the Engine's own timestamps (`timestamps: true` puts one before each
 * line): the instant of the last line sent and the lines sent at that instant. A follower that re-attaches with
 * `since` at that instant is sent those lines again by the Engine, and drops them here. Pure, so that what is sent
 * once and what is said lost can be tested line by line.
 */
export class LogCursor {
  private last?: bigint;
  private atLast: string[] = [];
  /** Re-attached and not yet past the lines already sent: those of the last instant the Engine has yet to send again. */
  private replay?: { left: string[]; seen: boolean };

  /** Nanoseconds since the epoch of a timestamp as the Engine writes it (RFC 3339, up to nine decimals). */
  static parse(stamp: string): bigint | undefined {
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(stamp);
    if (!m) return undefined;
    const ms = Date.parse(`${m[1]}Z`);
    if (Number.isNaN(ms)) return undefined;
    return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
  }

  /**
   * A line as the Engine sent it, timestamp first: its text to send on, and whether lines may be missing before it;
   * `undefined` when it was sent already; `'again'` when the Engine sends a line already sent on a live stream, as its
   * follower does when it reads a rotated file a second time (and then may skip a file): that stream is not to be
   * trusted further.
   */
  take(raw: string): { text: string; missing: boolean } | 'again' | undefined {
    const space = raw.indexOf(' ');
    const at = space > 0 ? LogCursor.parse(raw.slice(0, space)) : undefined;
    // Not stamped (the Engine always stamps when asked): sent on as it is.
    if (at === undefined) return { text: raw, missing: false };
    const text = raw.slice(space + 1);
    let missing = false;
    if (this.replay) {
      if (this.last !== undefined && at < this.last) return undefined;
      const i = at === this.last ? this.replay.left.indexOf(text) : -1;
      if (i >= 0) {
        this.replay.left.splice(i, 1);
        this.replay.seen = true;
        return undefined;
      }
      // The Engine still had the last line sent: nothing between it and this one is missing. It had not: the files
      // that held what came after it were rotated away before the follower read them.
      missing = !this.replay.seen;
      this.replay = undefined;
    } else if (this.last !== undefined && (at < this.last || (at === this.last && this.atLast.includes(text)))) return 'again';
    if (at === this.last) this.atLast.push(text);
    else {
      this.last = at;
      this.atLast = [text];
    }
    return { text, missing };
  }

  /** The `since` to re-attach with (seconds, with nanoseconds), or `fallback` when no line was sent yet. */
  resume(fallback?: number): string | number | undefined {
    if (this.last === undefined) return fallback;
    this.replay = { left: [...this.atLast], seen: false };
    const ns = this.last % 1_000_000_000n;
    return `${this.last / 1_000_000_000n}.${ns.toString().padStart(9, '0')}`;
  }

  /** Whether a line the Engine holds, stamped so, is one this follower has yet to send. */
  isNew(stamp: string): boolean {
    const at = LogCursor.parse(stamp);
    return at !== undefined && (this.last === undefined || at > this.last);
  }
}
