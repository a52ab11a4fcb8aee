import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BrokerConfig } from '../config';
import { GearshiftError } from '../common/errors';
import { FetchGuard, NOT_REACHABLE, platformEndpoints } from './fetch-guard';

describe('the fetch guard', () => {
  const guard = new FetchGuard({ fetchAllow: '' } as BrokerConfig);

  it('refuses a URL of another scheme as every refused URL: 422, the same words', async () => {
    for (const url of ['file:///etc/passwd', 'ssh://-oProxyCommand=touch/x.git', 'ext::sh -c touch% /tmp/x']) {
      await assert.rejects(
        guard.check(url),
        (err: unknown) => err instanceof GearshiftError && err.code === 'rule_violation' && err.message === NOT_REACHABLE,
        url,
      );
    }
  });

  it('refuses what is no URL as bad input', async () => {
    await assert.rejects(guard.check('-u/x.git'), (err: unknown) => err instanceof GearshiftError && err.code === 'invalid_input');
  });
});

describe('the fetch guard and the platform database', () => {
  const config = (databaseUrl: string) =>
    ({ fetchAllow: '', host: '127.0.0.1', port: 8080, redisUrl: 'redis://127.0.0.1:6379', registry: '', databaseUrl }) as BrokerConfig;

  it('counts a Postgres reached over TCP among the platform services, and one behind a Unix socket not at all', () => {
    assert.deepEqual(platformEndpoints(config('postgresql://gs:pw@203.0.113.9:6432/gearshift')), [
      { host: '127.0.0.1', port: 8080 },
      { host: '127.0.0.1', port: 6379 },
      { host: '203.0.113.9', port: 6432 },
    ]);
    assert.deepEqual(platformEndpoints(config('postgresql://gs:pw@[2001:db8::9]/gearshift')).at(-1), { host: '2001:db8::9', port: 5432 });
    for (const socket of ['postgresql://gs:pw@/gearshift?host=/var/run/postgresql', 'postgresql://gs:pw@%2Fvar%2Frun%2Fpostgresql/gearshift']) {
      assert.deepEqual(platformEndpoints(config(socket)), [
        { host: '127.0.0.1', port: 8080 },
        { host: '127.0.0.1', port: 6379 },
      ]);
    }
  });

  it("refuses a fetch from a remote Postgres's host and port, and lets the same host's other ports through", async () => {
    // A public address stands for a remote Postgres: the guard answers from the address alone, nothing is fetched.
    const remote = new FetchGuard(config('postgresql://gs:pw@8.8.4.4:5432/gearshift'));
    await assert.rejects(remote.check('http://8.8.4.4:5432/x.git'), (err: unknown) => err instanceof GearshiftError && err.message === NOT_REACHABLE);
    assert.equal((await remote.check('http://8.8.4.4:5433/x.git')).url, 'http://8.8.4.4:5433/x.git');
    const local = new FetchGuard(config('postgresql://gs:pw@/gearshift?host=/var/run/postgresql'));
    assert.equal((await local.check('http://8.8.4.4:5432/x.git')).url, 'http://8.8.4.4:5432/x.git', 'a socket blocks no address');
  });
});
