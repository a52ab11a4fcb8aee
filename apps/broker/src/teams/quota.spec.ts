import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { quotaRefusal } from './quota';

describe('team quota', () => {
  const team = { name: 'acme', maxGears: 2, maxMemoryMb: 1024 };

  it('lets gears in while they fit, up to the limit itself', () => {
    assert.equal(quotaRefusal(team, { gears: 1, memoryMb: 512 }, { gears: 1, memoryMb: 512 }), null);
    assert.equal(quotaRefusal({ ...team, maxGears: null, maxMemoryMb: null }, { gears: 99, memoryMb: 99999 }, { gears: 5, memoryMb: 5000 }), null);
  });

  it('names the quota, its limit and the use', () => {
    const gears = quotaRefusal(team, { gears: 2, memoryMb: 512 }, { gears: 1, memoryMb: 256 });
    assert.equal(gears?.code, 'quota_exceeded');
    assert.deepEqual(gears?.details, { quota: 'maxGears', limit: 2, use: 2, requested: 1 });
    assert.match(gears!.message, /team "acme" would exceed its maxGears quota: the limit is 2, it uses 2/);
    const memory = quotaRefusal(team, { gears: 0, memoryMb: 768 }, { gears: 1, memoryMb: 512 });
    assert.deepEqual(memory?.details, { quota: 'maxMemoryMb', limit: 1024, use: 768, requested: 512 });
  });

  it('never refuses what adds nothing, even over the limit (an admin may lower a quota below the use)', () => {
    assert.equal(quotaRefusal(team, { gears: 5, memoryMb: 5000 }, { gears: 0, memoryMb: 0 }), null);
  });
});
