import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BrokerConfig } from '../config';
import { GearshiftError } from '../common/errors';
import { FetchGuard, NOT_REACHABLE } from './fetch-guard';

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
