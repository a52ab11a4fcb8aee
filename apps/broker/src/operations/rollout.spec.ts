import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nextRolloutStage, rolloutOf } from './rollout';

const gears = { fresh: ['n1', 'n2'], old: ['o1', 'o2'] };

describe('nextRolloutStage', () => {
  it('retires the old gears once the fresh ones are healthy', () => {
    assert.deepEqual(nextRolloutStage('surge', false, gears), { stage: 'retire', remove: ['o1', 'o2'] });
  });

  it('takes the fresh gears out when one never got healthy, and leaves the old ones serving', () => {
    assert.deepEqual(nextRolloutStage('surge', true, gears), { stage: 'rollback', remove: ['n1', 'n2'] });
  });

  it('ends after retiring or rolling back, whatever the outcome, removing nothing more', () => {
    for (const stage of ['retire', 'rollback'] as const) {
      for (const failed of [false, true]) assert.deepEqual(nextRolloutStage(stage, failed, gears), { stage: 'done', remove: [] });
    }
  });
});

describe('rolloutOf', () => {
  it('reads a rollout with and without an environment', () => {
    assert.deepEqual(rolloutOf({ rollout: { fresh: ['n1'], old: ['o1'], env: { A: '1' } } }), { fresh: ['n1'], old: ['o1'], env: { A: '1' } });
    assert.deepEqual(rolloutOf({ rollout: { fresh: ['n1'], old: [] } }), { fresh: ['n1'], old: [] });
  });

  it('is null for an operation that does not roll out', () => {
    assert.equal(rolloutOf({}), null);
    assert.equal(rolloutOf({ rollout: { fresh: 'n1' } }), null);
  });
});
