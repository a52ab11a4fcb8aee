import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { followedServiceScale, serviceScaleOf } from './service-scale';

const autoscaled = { scale: 1, autoscale: { min: 2, max: 5, targetConcurrency: 10 } };

describe('the scale of a named service', () => {
  it("runs the release's scale, or 1, unless scaled by hand", () => {
    assert.equal(serviceScaleOf(undefined, {}), 1);
    assert.equal(serviceScaleOf({ scale: 4 }, { scale: 2 }), 2);
    assert.equal(serviceScaleOf({ scale: 4, scaled: true }, { scale: 2 }), 4);
  });

  it('keeps the count an autoscaled service has through a push, within the bounds of the new release', () => {
    assert.equal(serviceScaleOf(undefined, autoscaled), 2, 'a new service starts at its minimum');
    assert.equal(serviceScaleOf({ scale: 4, autoscale: autoscaled.autoscale }, autoscaled), 4, 'not reset to the minimum');
    assert.equal(serviceScaleOf({ scale: 9 }, autoscaled), 5);
    assert.equal(serviceScaleOf({ scale: 1 }, autoscaled), 2);
  });

  it("records the release's bounds and the count as the release starts serving; a choice by hand stays", () => {
    const before = { scale: 4, autoscale: { min: 1, max: 4, targetConcurrency: 10 }, lastScaledAt: 123 };
    assert.deepEqual(followedServiceScale(before, autoscaled), { scale: 4, autoscale: autoscaled.autoscale, lastScaledAt: 123 });
    assert.deepEqual(followedServiceScale(undefined, autoscaled), { scale: 2, autoscale: autoscaled.autoscale });
    assert.deepEqual(followedServiceScale(before, { scale: 3 }), { scale: 3 }, 'a release that no longer autoscales it gives its scale');
    const byHand = { scale: 7, scaled: true };
    assert.equal(followedServiceScale(byHand, autoscaled), byHand);
  });
});
