import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LogCursor } from './log-cursor';

const at = (s: number, ns: number, text: string) => `2026-11-30T23:00:${String(s).padStart(2, '0')}.${String(ns).padStart(9, '0')}Z ${text}`;

describe('LogCursor', () => {
  it('reads the Engine’s timestamps to the nanosecond, with trailing zeros or without', () => {
    assert.equal(LogCursor.parse('2026-11-30T23:00:01.000000005Z'), BigInt(Date.parse('2026-11-30T23:00:01Z')) * 1_000_000n + 5n);
    assert.equal(LogCursor.parse('2026-11-30T23:00:01.5Z'), LogCursor.parse('2026-11-30T23:00:01.500000000Z'));
    assert.equal(LogCursor.parse('2026-11-30T23:00:01Z'), BigInt(Date.parse('2026-11-30T23:00:01Z')) * 1_000_000n);
    assert.equal(LogCursor.parse('yesterday'), undefined);
  });

  it('passes lines on without their timestamp, and an unstamped line as it is', () => {
    const c = new LogCursor();
    assert.deepEqual(c.take(at(1, 1, 'hello world')), { text: 'hello world', missing: false });
    assert.deepEqual(c.take('no stamp here'), { text: 'no stamp here', missing: false });
  });

  it('takes two lines of one instant as two lines', () => {
    const c = new LogCursor();
    assert.deepEqual(c.take(at(1, 1, 'a')), { text: 'a', missing: false });
    assert.deepEqual(c.take(at(1, 1, 'b')), { text: 'b', missing: false });
  });

  it('says a live stream is not to be trusted when it sends a line again or goes back in time', () => {
    const c = new LogCursor();
    c.take(at(1, 1, 'a'));
    c.take(at(1, 2, 'b'));
    assert.equal(c.take(at(1, 2, 'b')), 'again');
    assert.equal(c.take(at(1, 1, 'a')), 'again');
    assert.deepEqual(c.take(at(1, 3, 'c')), { text: 'c', missing: false });
  });

  it('re-attaches from the last instant sent and drops what it sent already, with nothing said missing', () => {
    const c = new LogCursor();
    c.take(at(1, 1, 'a'));
    c.take(at(1, 7, 'b'));
    c.take(at(1, 7, 'c'));
    assert.equal(c.resume(99), `${Date.parse('2026-11-30T23:00:01Z') / 1000}.000000007`);
    assert.equal(c.take(at(1, 7, 'b')), undefined);
    assert.equal(c.take(at(1, 7, 'c')), undefined);
    assert.deepEqual(c.take(at(1, 7, 'd')), { text: 'd', missing: false });
    assert.deepEqual(c.take(at(2, 0, 'e')), { text: 'e', missing: false });
  });

  it('says lines may be missing when the Engine no longer holds the last line sent', () => {
    const c = new LogCursor();
    c.take(at(1, 1, 'a'));
    c.resume();
    assert.deepEqual(c.take(at(5, 0, 'z')), { text: 'z', missing: true });
    assert.deepEqual(c.take(at(5, 1, 'y')), { text: 'y', missing: false });
  });

  it('re-attaches from the fallback before any line was sent, and says nothing missing', () => {
    const c = new LogCursor();
    assert.equal(c.resume(1700000000), 1700000000);
    assert.deepEqual(c.take(at(1, 1, 'a')), { text: 'a', missing: false });
  });

  it('knows which lines the Engine holds are newer than the last sent', () => {
    const c = new LogCursor();
    assert.equal(c.isNew('2026-11-30T23:00:01.000000001Z'), true);
    c.take(at(1, 1, 'a'));
    assert.equal(c.isNew('2026-11-30T23:00:01.000000001Z'), false);
    assert.equal(c.isNew('2026-11-30T23:00:01.000000002Z'), true);
    assert.equal(c.isNew('not a stamp'), false);
  });
});
