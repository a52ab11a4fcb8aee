import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, instanceSetting, intSetting } from './settings';

describe('settings', () => {
  it('reads whole numbers within bounds, with a default', () => {
    assert.equal(intSetting({}, 'N', 7, 1, 10), 7);
    assert.equal(intSetting({ N: '3' }, 'N', 7, 1, 10), 3);
  });

  it('names the variable and the rule of a bad value', () => {
    assert.throws(
      () => intSetting({ N: '11' }, 'N', 7, 1, 10),
      (e: Error) => e instanceof ConfigError && e.message === 'N must be a whole number from 1 to 10, not "11"',
    );
    assert.throws(() => intSetting({ N: '2.5' }, 'N', 7, 1, 10), ConfigError);
    assert.throws(() => instanceSetting({ GEARSHIFT_INSTANCE: 'Has Spaces' }), /GEARSHIFT_INSTANCE must match/);
    assert.equal(instanceSetting({}), 'gearshift');
  });
});
