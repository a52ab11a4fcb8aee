import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { BoundedStream, CHUNK_COST, droppedWords, StreamBudget, type StreamSink } from './bounded-stream';

/** A client that takes what it is written and reads it only when told to (`flush`). */
class SlowClient implements StreamSink<string> {
  written: string[] = [];
  waiting: (() => void)[] = [];
  closed = false;
  write(chunk: string, flushed: () => void) {
    this.written.push(chunk);
    this.waiting.push(flushed);
  }
  open() {
    return !this.closed;
  }
  /** Reads everything written so far. */
  flush() {
    for (const f of this.waiting.splice(0)) f();
  }
}

const line = (n: number) => `line ${String(n).padStart(4, '0')}\n`; // 10 bytes
const notice = (d: { chunks: number; bytes: number }) => `dropped ${d.chunks} (${d.bytes} bytes)\n`;

describe('a stream bounded for a slow client', () => {
  it('passes everything on to a client that keeps up, one chunk per line without join', () => {
    const client = new SlowClient();
    const out = new BoundedStream(client, { limit: 2 * (10 + CHUNK_COST), notice });
    for (let n = 0; n < 100; n++) {
      out.write(line(n));
      client.flush();
    }
    out.end('end\n');
    assert.deepEqual(client.written, [...Array.from({ length: 100 }, (_, n) => line(n)), 'end\n']);
    assert.equal(out.droppedInAll, 0);
  });

  it('holds at most the limit, drops and counts the rest, and says so once the client caught up', () => {
    const client = new SlowClient();
    const out = new BoundedStream(client, { limit: 3 * (10 + CHUNK_COST), notice });
    for (let n = 0; n < 1000; n++) out.write(line(n));
    assert.deepEqual(client.written, [line(0), line(1), line(2)]);
    assert.ok(out.pending <= 3 * (10 + CHUNK_COST));
    assert.equal(out.droppedInAll, 997);
    client.flush();
    // Told before anything new: what was missed, then the stream goes on.
    assert.deepEqual(client.written.slice(3), ['dropped 997 (9970 bytes)\n']);
    for (let n = 1000; n < 1010; n++) out.write(line(n));
    // The notice is held as a line is: one more line fits beside it.
    assert.deepEqual(client.written.slice(4), [line(1000)], 'after the notice, the limit again');
    assert.equal(out.droppedInAll, 997 + 9);
  });

  it('holds no more for all clients together than their shared budget, and gives it back as they read', () => {
    const shared = new StreamBudget(4 * (10 + CHUNK_COST));
    const clients = [new SlowClient(), new SlowClient(), new SlowClient()];
    // Each client alone could hold 3 lines; together they hold 4.
    const outs = clients.map((c) => new BoundedStream(c, { limit: 3 * (10 + CHUNK_COST), notice, shared }));
    for (let n = 0; n < 10; n++) for (const out of outs) out.write(line(n));
    assert.deepEqual(
      clients.map((c) => c.written.length),
      [2, 1, 1],
    );
    assert.equal(shared.held, 4 * (10 + CHUNK_COST));
    assert.equal(
      outs.reduce((n, o) => n + o.droppedInAll, 0),
      26,
    );
    // The first reads: what it held goes back to all, and it hears what it missed.
    clients[0].flush();
    assert.deepEqual(clients[0].written.slice(2), ['dropped 8 (80 bytes)\n']);
    for (const c of clients) c.flush();
    for (const c of clients) c.flush();
    assert.equal(shared.held, 0);
  });

  it('writes the last chunk whatever is held, after the count of what was dropped', () => {
    const client = new SlowClient();
    const out = new BoundedStream(client, { limit: 10 + CHUNK_COST, notice });
    for (let n = 0; n < 5; n++) out.write(line(n));
    out.end('{"exitCode":3}\n');
    assert.deepEqual(client.written, [line(0), 'dropped 4 (40 bytes)\n', '{"exitCode":3}\n']);
  });

  it('joins the lines of one turn into one chunk, counting them while they wait', async () => {
    const client = new SlowClient();
    const out = new BoundedStream(client, { limit: 5 * 10 + CHUNK_COST, notice, join: (lines) => lines.join('') });
    for (let n = 0; n < 8; n++) out.write(line(n));
    assert.deepEqual(client.written, [], 'nothing goes out before the turn ends');
    await nextTurn();
    assert.deepEqual(client.written, [[0, 1, 2, 3, 4].map(line).join('')]);
    client.flush();
    assert.deepEqual(client.written.slice(1), ['dropped 3 (30 bytes)\n']);
  });

  it('tells at once of a chunk larger than the limit with nothing held', () => {
    const client = new SlowClient();
    const out = new BoundedStream(client, { limit: 100 + CHUNK_COST, notice });
    out.write('x'.repeat(500));
    assert.deepEqual(client.written, ['dropped 1 (500 bytes)\n']);
    client.flush();
    out.write(line(1));
    assert.deepEqual(client.written.slice(1), [line(1)]);
  });

  it('writes nothing to a client that is gone', () => {
    const client = new SlowClient();
    const out = new BoundedStream(client, { limit: 1000, notice });
    client.closed = true;
    out.write(line(0));
    out.end('end\n');
    assert.deepEqual(client.written, []);
  });

  it('names the setting and the code in its words', () => {
    assert.match(droppedWords({ chunks: 2, bytes: 20 }), /^2 lines \(20 bytes\) dropped: .*GEARSHIFT_STREAM_BUFFER.*\(L10\)$/);
  });
});
