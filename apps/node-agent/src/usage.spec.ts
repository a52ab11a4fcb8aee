import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CpuRatios, JobTimings, mapBounded, MAX_JOB_TIMINGS } from './usage';

describe('gear usage sampling', () => {
  it('reads at most the given number at once, keeping the order', async () => {
    let running = 0;
    let most = 0;
    const out = await mapBounded([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 5 * (8 - n)));
      running--;
      return n * 10;
    });
    assert.deepEqual(out, [10, 20, 30, 40, 50, 60, 70]);
    assert.equal(most, 3);
    assert.deepEqual(await mapBounded([], 3, async () => 1), []);
  });

  it('gives a CPU ratio from the second sample of a gear, and none after its CPU time went back', () => {
    const r = new CpuRatios();
    const u = (cpuSeconds: number) => ({ gearId: 'g', appId: 'a', cpuSeconds, memoryBytes: 1 });
    assert.equal(r.apply([u(10)], 0)[0].cpuRatio, undefined);
    assert.equal(r.apply([u(12.5)], 5000)[0].cpuRatio, 0.5);
    assert.equal(r.apply([u(1)], 10000)[0].cpuRatio, undefined);
    // A gear absent from a sample is forgotten: back again, it starts over.
    r.apply([], 15000);
    assert.equal(r.apply([u(3)], 20000)[0].cpuRatio, undefined);
  });
});

describe('job timings', () => {
  it('keeps what a lost heartbeat did not carry, and drops what one did', () => {
    const t = new JobTimings();
    t.add('gear.converge', 1000, 3500);
    t.add('gear.converge', undefined, 3500);
    const first = t.take();
    assert.deepEqual(first.jobs, [{ kind: 'gear.converge', seconds: 2.5 }]);
    t.add('app.build', 1000, 2000);
    assert.equal(t.take().jobs.length, 2);
    first.sent();
    assert.deepEqual(t.take().jobs, [{ kind: 'app.build', seconds: 1 }]);
  });

  it('holds at most the newest MAX_JOB_TIMINGS', () => {
    const t = new JobTimings();
    for (let i = 0; i < MAX_JOB_TIMINGS + 10; i++) t.add(`k${i}`, 1, 2);
    const { jobs } = t.take();
    assert.equal(jobs.length, MAX_JOB_TIMINGS);
    assert.equal(jobs[0].kind, 'k10');
  });
});
