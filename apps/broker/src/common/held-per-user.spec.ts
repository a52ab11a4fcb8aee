import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HeldPerUser } from './held-per-user';
import { GearshiftError } from './errors';

describe('what a user holds open', () => {
  it('refuses the one past the limit with 429 and Retry-After, runs nothing for it, and frees a place when one ends', async () => {
    const held = new HeldPerUser();
    let release!: () => void;
    const open = held.run(
      'ada',
      1,
      (n) => `${n} open`,
      () => new Promise<void>((r) => (release = r)),
    );
    let ran = false;
    await assert.rejects(
      held.run(
        'ada',
        1,
        (n) => `${n} open`,
        async () => void (ran = true),
      ),
      (err: unknown) => err instanceof GearshiftError && err.code === 'too_many_requests' && err.message === '1 open' && err.headers['Retry-After'] === '5',
    );
    assert.equal(ran, false);
    // Another user is not held back by ada's.
    assert.equal(
      await held.run(
        'bob',
        1,
        () => 'full',
        () => Promise.resolve('bob ran'),
      ),
      'bob ran',
    );
    release();
    await open;
    assert.equal(held.of('ada'), 0);
    assert.equal(
      await held.run(
        'ada',
        1,
        () => 'full',
        () => Promise.resolve('again'),
      ),
      'again',
    );
  });

  it('frees the place when the work fails', async () => {
    const held = new HeldPerUser();
    await assert.rejects(
      held.run(
        'ada',
        1,
        () => 'full',
        () => Promise.reject(new Error('broke')),
      ),
      /broke/,
    );
    assert.equal(held.of('ada'), 0);
  });

  it('takes places at once for work that starts later, shared with the work it runs, and gives each back once', async () => {
    const held = new HeldPerUser();
    const first = held.take('ada', 2);
    const second = held.take('ada', 2);
    assert.ok(first && second);
    assert.equal(held.take('ada', 2), null, 'the third is over the limit');
    await assert.rejects(
      held.run(
        'ada',
        2,
        (n) => `${n} open`,
        async () => undefined,
      ),
      /2 open/,
    );
    first();
    first();
    assert.equal(held.of('ada'), 1, 'given back once, however often called');
    assert.equal(
      await held.run(
        'ada',
        2,
        (n) => `${n} open`,
        async () => 'ran',
      ),
      'ran',
    );
    second();
    assert.equal(held.of('ada'), 0);
  });
});
