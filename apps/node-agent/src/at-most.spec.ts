import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { allAtMost, atMost } from './at-most';

const tick = () => new Promise((r) => setImmediate(r));

describe('atMost', () => {
  it('runs no more than n tasks at once, and the rest in the order they came', async () => {
    const gate = atMost(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    await Promise.all(
      [1, 2, 3, 4, 5].map((i) =>
        gate(async () => {
          running++;
          most = Math.max(most, running);
          order.push(i);
          await tick();
          await tick();
          running--;
        }),
      ),
    );
    assert.equal(most, 2);
    assert.deepEqual(order, [1, 2, 3, 4, 5]);
  });

  it('frees a turn when a task fails', async () => {
    const gate = atMost(1);
    await assert.rejects(
      gate(() => Promise.reject(new Error('broken'))),
      /broken/,
    );
    assert.equal(await gate(async () => 'next'), 'next');
  });

  it('refuses a limit below one', () => {
    assert.throws(() => atMost(0), /above 0/);
  });
});

describe('allAtMost', () => {
  it('gives every result in the order of the tasks', async () => {
    const results = await allAtMost(
      2,
      [3, 1, 2].map((n) => async () => {
        for (let i = 0; i < n; i++) await tick();
        return n;
      }),
    );
    assert.deepEqual(results, [3, 1, 2]);
  });

  it('starts nothing more after a failure, lets the running ones end, and throws the first failure', async () => {
    const started: string[] = [];
    let slowEnded = false;
    await assert.rejects(
      allAtMost(2, [
        async () => {
          started.push('slow');
          for (let i = 0; i < 5; i++) await tick();
          slowEnded = true;
        },
        async () => {
          started.push('failing');
          throw new Error('service api: the build failed');
        },
        async () => {
          started.push('later');
        },
      ]),
      /service api: the build failed/,
    );
    assert.deepEqual(started, ['slow', 'failing']);
    assert.equal(slowEnded, true, 'the running task ended before the failure was thrown');
  });
});
