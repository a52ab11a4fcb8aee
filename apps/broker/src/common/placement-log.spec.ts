import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FULL_PLACEMENTS, recordPlacement, takePlacements, withPlacementLog } from './placement-log';

const placement = (i: number) => ({
  text: `placed ${i}`,
  considered: [
    { node: 'a', zone: null, chosen: true, reason: 'a ranks first' },
    { node: 'b', zone: null, chosen: false, reason: 'b is draining' },
  ],
  passedOver: { 'is draining': 1 },
});

describe('the placement log', () => {
  it('keeps every node of the first placements of a transaction, then the chosen node and the counts', async () => {
    const steps = await withPlacementLog(async () => {
      for (let i = 0; i < FULL_PLACEMENTS + 2; i++) recordPlacement(placement(i));
      return takePlacements();
    });
    assert.equal(steps.length, FULL_PLACEMENTS + 2);
    for (const s of steps.slice(0, FULL_PLACEMENTS)) {
      assert.equal(s.considered.length, 2);
      assert.equal(s.passedOver, undefined);
    }
    for (const s of steps.slice(FULL_PLACEMENTS)) {
      assert.deepEqual(s.considered, [{ node: 'a', zone: null, chosen: true, reason: 'a ranks first' }]);
      assert.deepEqual(s.passedOver, { 'is draining': 1 });
    }
  });

  it('counts the placements already taken: a second operation of one transaction gets the short form', async () => {
    const [first, second] = await withPlacementLog(async () => {
      for (let i = 0; i < FULL_PLACEMENTS; i++) recordPlacement(placement(i));
      const a = takePlacements();
      recordPlacement(placement(FULL_PLACEMENTS));
      return [a, takePlacements()];
    });
    assert.equal(first.length, FULL_PLACEMENTS);
    assert.equal(second[0].considered.length, 1);
  });

  it('keeps nothing outside a transaction', () => {
    recordPlacement(placement(0));
    assert.deepEqual(takePlacements(), []);
  });
});
