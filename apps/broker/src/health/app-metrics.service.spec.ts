import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GearshiftError } from '../common/errors';
import { metricsMinutes } from './app-metrics.service';

describe('?minutes of an app metrics request', () => {
  it('takes 1 to 60, and the whole hour when absent', () => {
    assert.equal(metricsMinutes(undefined), 60);
    assert.equal(metricsMinutes(''), 60);
    assert.equal(metricsMinutes('1'), 1);
    assert.equal(metricsMinutes('60'), 60);
  });

  it('refuses anything else with a 400 that names minutes', () => {
    for (const bad of ['0', '61', '-5', '1.5', '1e1', 'ten', ' 5']) {
      assert.throws(
        () => metricsMinutes(bad),
        (err: GearshiftError) =>
          err.code === 'invalid_input' && (err.details as { pointer: string }[])[0].pointer === '?minutes' && /minutes/.test(err.message),
        bad,
      );
    }
  });
});
