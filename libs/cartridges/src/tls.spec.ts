import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { haproxyRefusal, keyWeakness, onPath, tlsPairProblem } from './tls';

const noOpenssl = spawnSync('openssl', ['version']).status !== 0 && 'openssl is not installed';
const noHaproxy = spawnSync('haproxy', ['-v']).status !== 0 && 'haproxy is not installed';

/** A self-signed pair made by openssl: `newkey` as openssl takes it (rsa:2048, ec -pkeyopt ..., ed25519). */
function pair(host: string, newkey: string[], days = '2'): { certificate: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tls-spec-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-nodes',
        ...newkey,
        '-days',
        days,
        '-subj',
        `/CN=${host}`,
        '-addext',
        `subjectAltName=DNS:${host}`,
        '-keyout',
        join(dir, 'k'),
        '-out',
        join(dir, 'c'),
      ],
      { stdio: 'ignore' },
    );
    return { certificate: readFileSync(join(dir, 'c'), 'utf8'), key: readFileSync(join(dir, 'k'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('TLS pair checks', () => {
  it('takes RSA of 2048 bits and more, EC P-256 and P-384 and Ed25519; nothing weaker', () => {
    const rsa = (modulusLength: number) => generateKeyPairSync('rsa', { modulusLength }).privateKey;
    const ec = (namedCurve: string) => generateKeyPairSync('ec', { namedCurve }).privateKey;
    assert.equal(keyWeakness(rsa(2048)), null);
    assert.match(keyWeakness(rsa(1024))!, /1024 bits; at least 2048/);
    assert.equal(keyWeakness(ec('prime256v1')), null);
    assert.equal(keyWeakness(ec('secp384r1')), null);
    assert.match(keyWeakness(ec('secp256k1'))!, /secp256k1; P-256 or P-384/);
    assert.equal(keyWeakness(generateKeyPairSync('ed25519').privateKey), null);
    assert.match(keyWeakness(generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 }).privateKey)!, /dsa key/);
  });

  it('refuses each broken rule with its own pointer and rule', { skip: noOpenssl }, () => {
    const good = pair('www.shop.test', ['-newkey', 'rsa:2048']);
    const other = pair('other.shop.test', ['-newkey', 'rsa:2048']);
    assert.equal(tlsPairProblem('www.shop.test', good.certificate, good.key), null);
    assert.deepEqual(tlsPairProblem('www.shop.test', good.certificate, undefined)?.rule, 'required');
    assert.deepEqual(tlsPairProblem('www.shop.test', 'garbage', good.key)?.pointer, '/certificate');
    assert.deepEqual(tlsPairProblem('www.shop.test', good.certificate, 'garbage')?.pointer, '/key');
    assert.equal(tlsPairProblem('www.shop.test', good.certificate, other.key)?.rule, 'key-matches');
    assert.equal(tlsPairProblem('www.shop.test', other.certificate, other.key)?.rule, 'covers-host');
    const weak = pair('www.shop.test', ['-newkey', 'rsa:1024']);
    assert.deepEqual(tlsPairProblem('www.shop.test', weak.certificate, weak.key), {
      kind: 'rule',
      pointer: '/key',
      rule: 'key-strength',
      message: 'is an RSA key of 1024 bits; at least 2048 are needed',
    });
    const inThreeDays = Date.now() + 3 * 86_400_000;
    assert.equal(tlsPairProblem('www.shop.test', good.certificate, good.key, inThreeDays)?.rule, 'in-date');
    assert.match(tlsPairProblem('www.shop.test', good.certificate, good.key, Date.now() - 86_400_000)!.message, /not valid before/);
  });

  it('finds a program on the PATH, and says null when it is not there', () => {
    assert.ok(onPath('node', `/nonexistent:${join(process.execPath, '..')}`)?.endsWith('/node'));
    assert.equal(onPath('node', '/nonexistent'), null);
  });

  it('asks HAProxy: a sound pair passes, a 1024-bit key is refused with its reason', { skip: noOpenssl || noHaproxy }, async () => {
    const good = pair('www.shop.test', ['-newkey', 'rsa:2048']);
    assert.equal(await haproxyRefusal('haproxy', `${good.certificate}${good.key}`), null);
    const ed = pair('www.shop.test', ['-newkey', 'ed25519']);
    assert.equal(await haproxyRefusal('haproxy', `${ed.certificate}${ed.key}`), null);
    const weak = pair('www.shop.test', ['-newkey', 'rsa:1024']);
    const refusal = await haproxyRefusal('haproxy', `${weak.certificate}${weak.key}`);
    assert.ok(refusal, 'refused');
    assert.doesNotMatch(refusal, new RegExp(tmpdir()), 'no scratch path in the reason');
    assert.match((await haproxyRefusal('/nonexistent/haproxy', 'x')) ?? '', /could not be run/);
  });
});
