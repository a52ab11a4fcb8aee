import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { allowedBy, embeddedV4, notPublic, parseAllowList, parseIp, refusal, type FetchRules, type Ip } from './fetch-policy';

const ip = (text: string): Ip => {
  const parsed = parseIp(text);
  assert.ok(parsed, `${text} parses`);
  return parsed;
};

describe('source addresses', () => {
  it('reads IPv4 and IPv6 addresses, with or without brackets and zones, and nothing else', () => {
    assert.deepEqual(parseIp('127.0.0.1'), { family: 4, value: 0x7f000001n });
    assert.deepEqual(parseIp('[::1]'), { family: 6, value: 1n });
    assert.deepEqual(parseIp('::'), { family: 6, value: 0n });
    assert.deepEqual(parseIp('fe80::1%eth0'), { family: 6, value: (0xfe80n << 112n) | 1n });
    assert.deepEqual(parseIp('2001:db8:0:0:0:0:0:ff'), { family: 6, value: (0x20010db8n << 96n) | 0xffn });
    assert.deepEqual(parseIp('::ffff:127.0.0.1'), parseIp('::ffff:7f00:1'));
    for (const bad of ['localhost', '', '1.2.3', '256.0.0.1', '::g', '0x7f.1', '2130706433']) assert.equal(parseIp(bad), null, bad);
  });

  it('refuses loopback, link-local, private, shared, multicast, broadcast and reserved IPv4', () => {
    const refused = {
      '0.0.0.0': 'this network',
      '0.1.2.3': 'this network',
      '10.0.0.1': 'private',
      '10.255.255.255': 'private',
      '100.64.0.1': 'shared (carrier-grade NAT)',
      '100.127.255.254': 'shared (carrier-grade NAT)',
      '127.0.0.1': 'loopback',
      '127.1.2.3': 'loopback',
      '169.254.169.254': 'link-local',
      '169.254.0.1': 'link-local',
      '172.16.0.1': 'private',
      '172.31.255.255': 'private',
      '192.0.0.8': 'protocol assignments',
      '192.168.1.1': 'private',
      '198.18.0.1': 'benchmarking',
      '224.0.0.1': 'multicast',
      '239.255.255.250': 'multicast',
      '240.0.0.1': 'reserved and broadcast',
      '255.255.255.255': 'reserved and broadcast',
    };
    for (const [address, why] of Object.entries(refused)) assert.equal(notPublic(ip(address)), why, address);
  });

  it('lets public IPv4 through, up to the edges of each range', () => {
    for (const address of [
      '1.1.1.1',
      '8.8.8.8',
      '140.82.112.3',
      '9.255.255.255',
      '11.0.0.0',
      '100.63.255.255',
      '100.128.0.0',
      '126.255.255.255',
      '128.0.0.0',
      '169.253.255.255',
      '169.255.0.0',
      '172.15.255.255',
      '172.32.0.0',
      '192.167.255.255',
      '192.169.0.0',
      '223.255.255.255',
    ]) {
      assert.equal(notPublic(ip(address)), null, address);
    }
  });

  it('refuses loopback, unspecified, unique local, link-local, site-local and multicast IPv6', () => {
    const refused = {
      '::1': 'loopback',
      '::': 'unspecified',
      'fc00::1': 'unique local (private)',
      'fd12:3456:789a::1': 'unique local (private)',
      'fe80::1': 'link-local',
      'febf:ffff::1': 'link-local',
      'fec0::1': 'site-local',
      'ff02::1': 'multicast',
      '64:ff9b:1::1': 'local translation',
    };
    for (const [address, why] of Object.entries(refused)) assert.equal(notPublic(ip(address)), why, address);
    for (const address of ['2606:4700:4700::1111', '2001:4860:4860::8888', 'fbff::1', 'fe7f::1', '2a00:1450::1'])
      assert.equal(notPublic(ip(address)), null, address);
  });

  it('sees the IPv4 address inside mapped, translated, NAT64, compatible and 6to4 forms', () => {
    const refused = {
      '::ffff:127.0.0.1': 'loopback (as IPv6)',
      '::ffff:7f00:1': 'loopback (as IPv6)',
      '[::ffff:169.254.169.254]': 'link-local (as IPv6)',
      '::ffff:10.1.2.3': 'private (as IPv6)',
      '::ffff:0:192.168.0.1': 'private (as IPv6)',
      '64:ff9b::a9fe:a9fe': 'link-local (as IPv6)',
      '::127.0.0.1': 'loopback (as IPv6)',
      '2002:7f00:1::': 'loopback (as IPv6)',
      '2002:c0a8:101::1': 'private (as IPv6)',
      '::ffff:100.64.0.1': 'shared (carrier-grade NAT) (as IPv6)',
      '::ffff:0.0.0.0': 'this network (as IPv6)',
    };
    for (const [address, why] of Object.entries(refused)) assert.equal(notPublic(ip(address)), why, address);
    assert.equal(notPublic(ip('::ffff:8.8.8.8')), null);
    assert.equal(notPublic(ip('64:ff9b::808:808')), null);
    assert.deepEqual(embeddedV4(ip('::ffff:1.2.3.4')), ip('1.2.3.4'));
    assert.equal(embeddedV4(ip('2001:db8::1')), null);
    assert.equal(embeddedV4(ip('1.2.3.4')), null);
  });
});

describe('the operator allow list', () => {
  it('takes addresses and ranges, each with an optional port', () => {
    const list = parseAllowList(' 127.0.0.1:9418, 10.0.0.0/8 ,[fd00::/8]:443, ::1, [fe80::1], 192.168.1.0/24:22,');
    assert.equal(list.length, 6);
    assert.ok(allowedBy(list, ip('127.0.0.1'), 9418));
    assert.ok(!allowedBy(list, ip('127.0.0.1'), 6379), 'another port of an allowed address');
    assert.ok(!allowedBy(list, ip('127.0.0.2'), 9418));
    assert.ok(allowedBy(list, ip('10.20.30.40'), 5000));
    assert.ok(!allowedBy(list, ip('11.0.0.1'), 5000));
    assert.ok(allowedBy(list, ip('fd12::1'), 443));
    assert.ok(!allowedBy(list, ip('fd12::1'), 80));
    assert.ok(allowedBy(list, ip('::1'), 1));
    assert.ok(allowedBy(list, ip('fe80::1'), 80));
    assert.ok(allowedBy(list, ip('192.168.1.200'), 22));
    assert.ok(!allowedBy(list, ip('192.168.2.1'), 22));
    assert.ok(allowedBy(list, ip('::ffff:10.0.0.1'), 80), 'a mapped form of an allowed address is allowed');
    assert.deepEqual(parseAllowList(''), []);
  });

  it('refuses an entry it cannot read, naming it', () => {
    for (const bad of ['localhost', '10.0.0.0/33', '127.0.0.1:0', '127.0.0.1:70000', '::1:9418x', '[::1]/200', 'fd00::/129', '1.2.3.4/8/9']) {
      assert.throws(
        () => parseAllowList(`127.0.0.1,${bad}`),
        (e: Error) => e.message.startsWith(`"${bad}" is not an address or CIDR range`),
        bad,
      );
    }
  });
});

describe('a fetch refusal', () => {
  const rules: FetchRules = {
    allow: parseAllowList('127.0.0.1:9418,10.1.0.0/16'),
    local: [ip('203.0.113.7'), ip('127.0.0.1')],
    services: [{ ip: ip('198.51.100.9'), port: 6379 }],
  };

  it('lets public addresses and allowed ones through', () => {
    assert.equal(refusal(rules, ip('140.82.112.3'), 443), null);
    assert.equal(refusal(rules, ip('127.0.0.1'), 9418), null);
    assert.equal(refusal(rules, ip('10.1.2.3'), 6379), null);
  });

  it("refuses the platform's own addresses and service ports, and everything not public", () => {
    assert.equal(refusal(rules, ip('127.0.0.1'), 5000), 'loopback');
    assert.equal(refusal(rules, ip('127.0.0.1'), 6379), 'loopback');
    assert.equal(refusal(rules, ip('169.254.169.254'), 80), 'link-local');
    assert.equal(refusal(rules, ip('203.0.113.7'), 443), "this host's own address");
    assert.equal(refusal(rules, ip('::ffff:203.0.113.7'), 443), "this host's own address");
    assert.equal(refusal(rules, ip('198.51.100.9'), 6379), "a platform service's port");
    assert.equal(refusal(rules, ip('198.51.100.9'), 443), null, 'the same host on a port the platform does not use');
    assert.equal(refusal(rules, ip('10.2.0.1'), 80), 'private');
  });
});
