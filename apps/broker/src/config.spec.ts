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

describe('broker settings: DATABASE_URL', () => {
  const base = { GEARSHIFT_DATA_DIR: '/nonexistent/gearshift', GEARSHIFT_REGISTRY: '' };

  it('is the local Postgres over its Unix socket unless set', () => {
    assert.equal(loadConfig(base).databaseUrl, 'postgresql://gearshift:gearshift@/gearshift?host=/var/run/postgresql');
  });

  it('takes a socket in ?host= or percent-encoded, and a TCP URL, as given', () => {
    for (const url of [
      'postgresql://gearshift:pw@/gearshift?host=/run/postgresql',
      'postgres://gearshift:pw@%2Frun%2Fpostgresql/gearshift',
      'postgresql://gearshift:pw@db.internal:6432/gearshift?sslmode=require',
      'postgresql://gearshift:pw@127.0.0.1:5432/gearshift',
    ]) {
      assert.equal(loadConfig({ ...base, DATABASE_URL: url }).databaseUrl, url);
    }
  });

  it('stops the broker with the setting named, and no password shown, when it cannot be read', () => {
    for (const bad of ['mysql://gearshift:pw@db/gearshift', 'postgresql://gearshift:pw@/gearshift', 'postgresql://gearshift:pw@db:70000/gearshift']) {
      assert.throws(
        () => loadConfig({ ...base, DATABASE_URL: bad }),
        (err: Error) => err instanceof ConfigError && err.message.startsWith('DATABASE_URL ') && !err.message.includes(':pw@'),
        bad,
      );
    }
  });
});
