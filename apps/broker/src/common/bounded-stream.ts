import type { Response } from 'express';
import type { WebSocket } from 'ws';

/**
 * Where a stream's chunks go: an HTTP answer or a WebSocket. `write` calls `flushed` once the chunk has left the
 * process (handed to the socket), or when it never will (the client is gone).
 */
export interface StreamSink<C> {
  write(chunk: C, flushed: () => void): void;
  /** False once the client is gone: nothing more is written. */
  open(): boolean;
}

/** What a writer did not pass on: how many chunks (lines, terminal frames) and their bytes. */
export interface Dropped {
  chunks: number;
  bytes: number;
}

/**
 * What every stream of the broker holds for its clients together, against a bound of its own: one client's bound
 * does not keep many slow clients from filling the heap between them.
 */
export class StreamBudget {
  held = 0;
  constructor(readonly limit: number) {}
}

let everyStream: StreamBudget | undefined;

/** The one budget of every stream in this process (GEARSHIFT_STREAM_BUFFER_TOTAL), made with the first bound asked. */
export function allStreams(limit: number): StreamBudget {
  return (everyStream ??= new StreamBudget(limit));
}

export interface BoundedStreamOptions<C> {
  /** Bytes that may wait for the client at once (GEARSHIFT_STREAM_BUFFER): past them, chunks are dropped. */
  limit: number;
  /** What all the streams of the process may hold together; past it, chunks of any of them are dropped. */
  shared?: StreamBudget;
  /** The chunk that tells the client, once it caught up (or at the end), what it missed and why. */
  notice: (dropped: Dropped) => C;
  /**
   * Chunks written in one turn of the event loop go out as one (an HTTP answer's lines): a chunk costs the socket
   * a few hundred bytes of bookkeeping beside its own, more than a log line. Absent: each chunk goes alone (a
   * WebSocket message).
   */
  join?: (chunks: C[]) => C;
}

/** What one chunk held for the client costs besides its bytes: the socket's and the writer's bookkeeping. */
export const CHUNK_COST = 256;

const sizeOf = (chunk: string | Buffer) => (typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length);

/**
 * Writes what comes from Redis (a command's output, a gear's log lines, an operation's progress) to one client,
 * holding no more than `limit` bytes for it. A client that reads slower than the output comes is not given
 * everything late at the cost of the broker's heap: past the limit, chunks are dropped and counted, and once the
 * client has caught up (everything held for it has gone out), one chunk says how many were dropped and why, as
 * Heroku's log router does with its L10 error. The last chunk of a stream (a command's exit code, an operation's
 * end) is never dropped: `end` writes it whatever is held.
 */
export class BoundedStream<C extends string | Buffer> {
  /** Bytes (and chunk costs) handed to the sink and not flushed yet, and of chunks waiting to be joined. */
  private held = 0;
  private batch: C[] = [];
  private batchScheduled = false;
  private dropped: Dropped = { chunks: 0, bytes: 0 };
  /** Chunks dropped over the stream's whole life. */
  droppedInAll = 0;

  constructor(
    private readonly sink: StreamSink<C>,
    private readonly options: BoundedStreamOptions<C>,
  ) {}

  /** Bytes held for the client now. */
  get pending(): number {
    return this.held;
  }

  /** Passes `chunk` on, or drops it when the client has `limit` bytes waiting or is catching up after a drop. */
  write(chunk: C): void {
    if (!this.sink.open()) return;
    const bytes = sizeOf(chunk);
    const shared = this.options.shared;
    if (this.dropped.chunks > 0 || this.held + bytes + CHUNK_COST > this.options.limit || (shared && shared.held + bytes + CHUNK_COST > shared.limit)) {
      this.dropped.chunks++;
      this.dropped.bytes += bytes;
      this.droppedInAll++;
      // A chunk larger than the limit on its own, with nothing held: nothing will flush to say so later.
      if (this.held === 0) this.tellDropped();
      return;
    }
    this.queue(chunk);
  }

  /**
   * Writes what is held, the count of what was dropped, and the stream's last chunk (if any), whatever the limit:
   * the client hears how the stream ended.
   */
  end(chunk?: C): void {
    if (!this.sink.open()) return;
    this.flush();
    this.tellDropped();
    if (chunk !== undefined) this.send(chunk);
  }

  private queue(chunk: C): void {
    if (!this.options.join) return this.send(chunk);
    this.batch.push(chunk);
    this.hold(sizeOf(chunk));
    if (this.batchScheduled) return;
    this.batchScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.batchScheduled = false;
    if (this.batch.length === 0) return;
    const chunks = this.batch;
    this.batch = [];
    for (const c of chunks) this.hold(-sizeOf(c));
    if (this.sink.open()) this.send(chunks.length === 1 ? chunks[0] : this.options.join!(chunks));
  }

  private send(chunk: C): void {
    const cost = sizeOf(chunk) + CHUNK_COST;
    this.hold(cost);
    let done = false;
    this.sink.write(chunk, () => {
      if (done) return;
      done = true;
      this.hold(-cost);
      // Caught up: everything held has gone out, and the client hears what it missed before anything new.
      if (this.held === 0 && this.dropped.chunks > 0 && this.sink.open()) this.tellDropped();
    });
  }

  /** Counts bytes held for this client, in the shared budget too. */
  private hold(bytes: number): void {
    this.held += bytes;
    if (this.options.shared) this.options.shared.held += bytes;
  }

  private tellDropped(): void {
    if (this.dropped.chunks === 0) return;
    const notice = this.options.notice(this.dropped);
    this.dropped = { chunks: 0, bytes: 0 };
    this.send(notice);
  }
}

/** An HTTP answer as a sink: written while the connection is open. */
export function responseSink(res: Response): StreamSink<string> {
  return {
    write: (chunk, flushed) => {
      res.write(chunk, () => flushed());
    },
    open: () => !res.writableEnded && !res.destroyed,
  };
}

/** A WebSocket as a sink: text frames for strings, binary frames for bytes, while it is open. */
export function socketSink<C extends string | Buffer>(ws: WebSocket): StreamSink<C> {
  return {
    write: (chunk, flushed) => ws.send(chunk, { binary: typeof chunk !== 'string' }, () => flushed()),
    open: () => ws.readyState === ws.OPEN,
  };
}

/** Why lines went missing, in words for the one who reads them (the setting names the limit). */
export function droppedWords(d: Dropped, what = 'lines'): string {
  return `${d.chunks} ${what} (${d.bytes} bytes) dropped: this client reads slower than the output comes, and the broker holds at most GEARSHIFT_STREAM_BUFFER of it (L10)`;
}
