import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from './backoff';

describe('restart backoff', () => {
  const policy = { baseMs: 100, maxMs: 2000, stableMs: 10_000 };

  it('starts a process that ran for a while again at once', () => {
    const b = new Backoff(policy);
    assert.equal(b.next(60_000), 100);
    assert.equal(b.next(60_000), 100);
  });

  it('doubles the wait while it keeps crashing soon after starting, up to the cap', () => {
    const b = new Backoff(policy);
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map(() => b.next(50)),
      [100, 200, 400, 800, 1600, 2000],
    );
    assert.equal(b.crashesInARow, 6);
  });

  it('forgives past crashes after a stable run', () => {
    const b = new Backoff(policy);
    b.next(50);
    b.next(50);
    b.next(50);
    assert.equal(b.next(10_000), 100);
    assert.equal(b.next(50), 200);
  });
});
