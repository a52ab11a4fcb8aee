import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decide, type DecideInput } from './decide';

const policy = { min: 1, max: 4, target: 5, upCooldownMs: 5_000, downCooldownMs: 30_000 };
const base: DecideInput = { replicas: 1, policy, idleAfterMs: null, traffic: { concurrent: 0, rate: 0, lastRequestAt: 0 }, lastChangeAt: 0, now: 100_000 };

describe('decide', () => {
  it('does nothing when the load fits', () => {
    assert.equal(decide({ ...base, traffic: { concurrent: 4, rate: 50, lastRequestAt: 99_000 } }), null);
  });

  it('scales up to carry the load, within max, and says why', () => {
    const d = decide({ ...base, traffic: { concurrent: 12, rate: 100, lastRequestAt: 99_000 } });
    assert.deepEqual(d && { kind: d.kind, replicas: (d as { replicas: number }).replicas }, { kind: 'scale', replicas: 3 });
    assert.match((d as { reason: string }).reason, /12 concurrent requests for 1 gear/);
    const capped = decide({ ...base, traffic: { concurrent: 100, rate: 1, lastRequestAt: 99_000 } });
    assert.equal((capped as { replicas: number }).replicas, 4);
  });

  it('waits for the cooldowns: short to grow, long to shrink, so it does not flap', () => {
    assert.equal(decide({ ...base, lastChangeAt: 98_000, traffic: { concurrent: 12, rate: 1, lastRequestAt: 99_000 } }), null);
    assert.equal(decide({ ...base, replicas: 3, lastChangeAt: 90_000 }), null);
    const down = decide({ ...base, replicas: 3, lastChangeAt: 60_000 });
    assert.equal((down as { replicas: number }).replicas, 1);
  });

  it('idles an app with no request for its idle time, and not while requests are open', () => {
    const idle = decide({ ...base, policy: null, idleAfterMs: 10_000, traffic: { concurrent: 0, rate: 0, lastRequestAt: 85_000 } });
    assert.equal(idle?.kind, 'idle');
    assert.equal(decide({ ...base, policy: null, idleAfterMs: 10_000, traffic: { concurrent: 1, rate: 0, lastRequestAt: 85_000 } }), null);
    assert.equal(decide({ ...base, policy: null, idleAfterMs: 10_000, lastChangeAt: 95_000, traffic: undefined }), null, 'just woke');
  });

  it('decides nothing on figures the routers reported too long ago', () => {
    assert.equal(decide({ ...base, policy: null, idleAfterMs: 10_000, traffic: undefined, stale: true }), null, 'no idling');
    assert.equal(decide({ ...base, replicas: 3, lastChangeAt: 60_000, traffic: undefined, stale: true }), null, 'no shrinking');
  });
});
