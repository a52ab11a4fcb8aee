import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, instanceSetting, intSetting, registryCredentials } from './settings';

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

  it("reads the registry's credentials from the environment, a named file, or the data directory", () => {
    const dir = mkdtempSync(join(tmpdir(), 'gearshift-settings-'));
    try {
      assert.equal(registryCredentials({}, dir), undefined, 'no password anywhere: a registry that takes anyone');
      assert.deepEqual(registryCredentials({ GEARSHIFT_REGISTRY_PASSWORD: 's3cret' }, dir), { username: 'gearshift', password: 's3cret' });
      mkdirSync(join(dir, 'registry'));
      writeFileSync(join(dir, 'registry', 'password'), 'from-the-file\n');
      assert.deepEqual(registryCredentials({ GEARSHIFT_REGISTRY_USER: 'ci' }, dir), { username: 'ci', password: 'from-the-file' });
      writeFileSync(join(dir, 'other'), 'named\n');
      assert.deepEqual(registryCredentials({ GEARSHIFT_REGISTRY_PASSWORD_FILE: join(dir, 'other') }, dir), { username: 'gearshift', password: 'named' });
      assert.throws(() => registryCredentials({ GEARSHIFT_REGISTRY_PASSWORD_FILE: join(dir, 'missing') }, dir), ConfigError);
      writeFileSync(join(dir, 'registry', 'password'), '\n');
      assert.throws(() => registryCredentials({}, dir), /is empty/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
