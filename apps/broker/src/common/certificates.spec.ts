import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { connect, createServer } from 'node:tls';
import { CertificateAuthority } from './certificates';

const firstPem = (chain: string) => chain.slice(0, chain.indexOf('-----END CERTIFICATE-----') + 25);

describe('platform certificate authority', () => {
  const secretKey = randomBytes(32);
  const ca = CertificateAuthority.fromSecretKey(secretKey);

  it('derives the same CA key from the same secret key, another from another', () => {
    const again = new X509Certificate(CertificateAuthority.fromSecretKey(secretKey).certificate);
    const mine = new X509Certificate(ca.certificate);
    const other = new X509Certificate(CertificateAuthority.fromSecretKey(randomBytes(32)).certificate);
    assert.ok(mine.ca);
    assert.ok(again.verify(mine.publicKey));
    assert.ok(!other.verify(mine.publicKey));
  });

  it('issues a server certificate for the names asked, signed by the CA, with its chain', () => {
    const issued = ca.issue(['postgresql-15', 'db.example']);
    const leaf = new X509Certificate(firstPem(issued.certificate));
    const root = new X509Certificate(ca.certificate);
    assert.ok(leaf.verify(root.publicKey));
    assert.ok(leaf.checkIssued(root));
    assert.ok(!leaf.ca);
    assert.equal(leaf.subject, 'CN=postgresql-15');
    assert.equal(leaf.subjectAltName, 'DNS:postgresql-15, DNS:db.example');
    assert.equal(leaf.checkHost('postgresql-15'), 'postgresql-15');
    assert.ok(issued.certificate.endsWith(ca.certificate));
    assert.match(issued.key, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.notEqual(ca.issue(['postgresql-15']).key, issued.key);
  });

  it('serves TLS that a client trusting the CA verifies, and one trusting nothing refuses', async () => {
    const issued = ca.issue(['localhost']);
    const server = createServer({ cert: issued.certificate, key: issued.key }, (s) => s.end('hello'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const talk = (opts: object) =>
      new Promise<string>((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port, servername: 'localhost', ...opts }, () => undefined);
        let got = '';
        s.on('data', (d) => (got += d));
        s.on('end', () => resolve(got));
        s.on('error', reject);
      });
    try {
      assert.equal(await talk({ ca: ca.certificate }), 'hello');
      await assert.rejects(talk({ ca: [] }), /self.signed|unable to get|unable to verify/i);
    } finally {
      server.close();
    }
  });
});
