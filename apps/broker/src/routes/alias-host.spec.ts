import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { aliasHostRefusal, isIpLiteral } from './alias-host';

describe('alias host names', () => {
  it('reads every form of an IP address as one', () => {
    for (const host of [
      '127.0.0.1',
      '127.1',
      '0x7f.0.0.1',
      '0177.0.0.1',
      '127.000.000.001',
      '2130706433',
      '0x7f000001',
      '169.254.169.254',
      '127.0.0.1.',
      '::1',
      '[::1]',
      '::ffff:127.0.0.1',
      '[::ffff:7f00:1]',
      'fe80::1%eth0',
      '0:0:0:0:0:0:0:1',
    ]) {
      assert.ok(isIpLiteral(host), host);
    }
    for (const host of ['www.example.com', '1.example.com', 'example.123abc', 'a1.b2.c3', '0x.example.org']) assert.ok(!isIpLiteral(host), host);
  });

  it('refuses an address, each form with the rule that says so', () => {
    for (const host of ['127.0.0.1', '127.1', '[::1]', '::1', '0x7f.1']) {
      assert.deepEqual(aliasHostRefusal(host, 'apps.example.com')?.rule, 'not-ip-address', host);
      assert.equal(aliasHostRefusal(host, 'apps.example.com')?.kind, 'rule');
    }
    assert.match(aliasHostRefusal('127.0.0.1', 'apps.example.com')!.message, /127\.0\.0\.1 is an IP address/);
  });

  it('refuses localhost and names under it, whatever the apps domain', () => {
    for (const host of ['localhost', 'LOCALHOST', 'evil.localhost', 'localhost.']) {
      assert.equal(aliasHostRefusal(host, 'apps.example.com')?.rule, 'not-localhost', host);
    }
    assert.equal(aliasHostRefusal('localhost.example.com', 'apps.example.com'), null, 'a name that only begins with localhost is a name');
  });

  it('refuses the apps domain and anything under it', () => {
    assert.equal(aliasHostRefusal('apps.example.com', 'apps.example.com')?.rule, 'reserved');
    assert.equal(aliasHostRefusal('shop-acme.apps.example.com', 'apps.example.com')?.rule, 'reserved');
    assert.equal(aliasHostRefusal('SHOP-acme.Apps.Example.com', 'apps.example.com')?.rule, 'reserved');
    assert.equal(aliasHostRefusal('myapps.example.com', 'apps.example.com'), null, 'a sibling name is not under it');
  });

  it('says a host that is not a DNS name is bad input', () => {
    for (const host of ['not a host', 'under_score.example.com', 'single', '-lead.example.com', 'a..b.com', `${'a'.repeat(64)}.com`, '*.example.com']) {
      const r = aliasHostRefusal(host, 'apps.example.com');
      assert.equal(r?.kind, 'invalid', host);
      assert.equal(r?.rule, 'pattern', host);
    }
  });

  it('takes an ordinary DNS name', () => {
    for (const host of ['www.example.com', 'shop.test', 'a-b.c-d.example.co.uk', 'xn--bcher-kva.example'])
      assert.equal(aliasHostRefusal(host, 'localhost'), null, host);
  });
});
