import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LoginWindow } from './login-window';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('login window', () => {
  it('lets ten failures through and holds the eleventh attempt until the oldest leaves the window', () => {
    const c = clock();
    const w = new LoginWindow(10, 60_000, 100, c.now);
    for (let i = 0; i < 10; i++) {
      assert.equal(w.retryAfter('alice'), 0, `attempt ${i + 1}`);
      w.fail('alice');
      c.advance(1000);
    }
    // The first failure was 10 s ago: it leaves the window in 50 s.
    assert.equal(w.retryAfter('alice'), 50);
    assert.equal(w.retryAfter('bob'), 0);
    c.advance(49_500);
    assert.equal(w.retryAfter('alice'), 1);
    c.advance(600);
    assert.equal(w.retryAfter('alice'), 0);
  });

  it('forgets failures older than the window', () => {
    const c = clock();
    const w = new LoginWindow(3, 60_000, 100, c.now);
    w.fail('k');
    w.fail('k');
    c.advance(61_000);
    w.fail('k');
    w.fail('k');
    assert.equal(w.retryAfter('k'), 0);
    w.fail('k');
    assert.equal(w.retryAfter('k'), 60);
  });

  it('takes back the latest failure of a key', () => {
    const w = new LoginWindow(2, 60_000, 100);
    w.fail('k');
    w.fail('k');
    assert.ok(w.retryAfter('k') > 0);
    w.undo('k');
    assert.equal(w.retryAfter('k'), 0);
    w.undo('k');
    w.undo('k');
    assert.equal(w.size, 0);
  });

  it('clears a key on success', () => {
    const w = new LoginWindow(2, 60_000, 100);
    w.fail('k');
    w.fail('k');
    assert.ok(w.retryAfter('k') > 0);
    w.clear('k');
    assert.equal(w.retryAfter('k'), 0);
  });

  it('keeps at most maxKeys keys, however many names a flood makes up, forgetting the oldest first', () => {
    const c = clock();
    const w = new LoginWindow(2, 60_000, 1000, c.now);
    w.fail('target');
    w.fail('target');
    for (let i = 0; i < 50_000; i++) w.fail(`made-up-${i}`);
    assert.equal(w.size, 1000);
    assert.equal(w.retryAfter('target'), 0);
    assert.ok(w.retryAfter('made-up-49999') === 0, 'one failure is under the limit of two');
    w.fail('made-up-49999');
    assert.ok(w.retryAfter('made-up-49999') > 0);
  });

  it('remembers no more timestamps per key than the limit', () => {
    const c = clock();
    const w = new LoginWindow(3, 60_000, 10, c.now);
    for (let i = 0; i < 10_000; i++) w.fail('k');
    const held = (w as unknown as { failures: Map<string, number[]> }).failures.get('k');
    assert.equal(held?.length, 3);
  });
});
