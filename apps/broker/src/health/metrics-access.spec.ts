import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isScraperHost, mayReadMetrics } from './metrics.controller';

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

  it('from loopback, only for Host headers a scraper sends, not for a name rebound to 127.0.0.1', () => {
    for (const host of [undefined, '127.0.0.1:8080', 'localhost:8080', 'LOCALHOST', '[::1]:8080', '10.0.0.5', 'broker1:8080', 'broker1.']) {
      assert.equal(isScraperHost(host, ['broker1', '0.0.0.0', '']), true, String(host));
    }
    for (const host of ['attacker.example', 'attacker.example:8080', 'localhost.attacker.example', '']) {
      assert.equal(isScraperHost(host, ['broker1', '0.0.0.0', '']), host === '', host);
    }
  });
});
