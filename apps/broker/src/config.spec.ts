import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from './config';

describe('broker settings: GEARSHIFT_ADVERTISE_ADDRESS', () => {
  const base = { GEARSHIFT_DATA_DIR: '/nonexistent/gearshift', GEARSHIFT_REGISTRY: '' };

  it('is empty unless set, and takes an IPv4 or IPv6 address', () => {
    assert.equal(loadConfig(base).advertiseAddress, '');
    assert.equal(loadConfig({ ...base, GEARSHIFT_ADVERTISE_ADDRESS: '10.0.0.2' }).advertiseAddress, '10.0.0.2');
    assert.equal(loadConfig({ ...base, GEARSHIFT_ADVERTISE_ADDRESS: 'fd00::2' }).advertiseAddress, 'fd00::2');
  });

  it('stops the broker with the setting named when it is not an address', () => {
    for (const bad of ['broker.example', '10.0.0.2:8080', 'http://10.0.0.2']) {
      assert.throws(
        () => loadConfig({ ...base, GEARSHIFT_ADVERTISE_ADDRESS: bad }),
        (err: Error) => err instanceof ConfigError && /GEARSHIFT_ADVERTISE_ADDRESS/.test(err.message),
      );
    }
  });
});
