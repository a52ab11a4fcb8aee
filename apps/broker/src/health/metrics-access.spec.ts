import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mayReadMetrics } from './metrics.controller';

describe('who may read /metrics', () => {
  it('without a token: clients on loopback alone', () => {
    for (const address of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) assert.equal(mayReadMetrics(undefined, undefined, address), true, address);
    for (const address of ['10.0.0.5', '::ffff:192.168.1.9', undefined]) assert.equal(mayReadMetrics(undefined, undefined, address), false, String(address));
  });

  it('with a token: whoever sends it as a bearer token, from anywhere, and no one else', () => {
    const token = 'a-scrape-token-of-32-characters!';
    assert.equal(mayReadMetrics(token, `Bearer ${token}`, '10.0.0.5'), true);
    assert.equal(mayReadMetrics(token, `bearer ${token}`, '10.0.0.5'), true);
    assert.equal(mayReadMetrics(token, undefined, '127.0.0.1'), false);
    assert.equal(mayReadMetrics(token, `Bearer ${token.slice(0, -1)}`, '127.0.0.1'), false);
    assert.equal(mayReadMetrics(token, `Bearer ${token}x`, '127.0.0.1'), false);
    assert.equal(mayReadMetrics(token, `Basic ${token}`, '127.0.0.1'), false);
  });
});
