import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { join, resolve } from 'node:path';
import { loadCatalog } from '@gearshift/cartridges';
import { CertificateAuthority } from '../common/certificates';
import { generatedFor, lacksGenerated } from './generated-values';

const catalog = loadCatalog(join(resolve(__dirname, '../../../../..'), 'cartridges'));
const postgres = catalog.get('postgresql-15')!;
const ca = CertificateAuthority.fromSecretKey(randomBytes(32));

describe('generated values', () => {
  it('makes credentials and a certificate for the cartridge, with the key that matches it', () => {
    const g = generatedFor(postgres, ca);
    assert.match(g.POSTGRESQL_USER, /^u[0-9a-f]{10}$/);
    assert.ok(g.POSTGRESQL_PASSWORD.length >= 20);
    const cert = new X509Certificate(g.GEARSHIFT_TLS_CERT);
    assert.equal(cert.subject, 'CN=postgresql-15');
    assert.ok(cert.checkPrivateKey(createPrivateKey(g.GEARSHIFT_TLS_KEY)));
    assert.equal(lacksGenerated(postgres, g), false);
  });

  it('keeps what was generated before and makes only what a newer manifest added', () => {
    const before = { POSTGRESQL_USER: 'u0123456789', POSTGRESQL_PASSWORD: 'kept' };
    assert.equal(lacksGenerated(postgres, before), true);
    const g = generatedFor(postgres, ca, before);
    assert.equal(g.POSTGRESQL_USER, 'u0123456789');
    assert.equal(g.POSTGRESQL_PASSWORD, 'kept');
    assert.ok(g.GEARSHIFT_TLS_CERT && g.GEARSHIFT_TLS_KEY);
    assert.deepEqual(generatedFor(postgres, ca, g), g, 'complete values stay as they are');
  });

  it('makes the certificate and key again together when only one of them is missing', () => {
    const whole = generatedFor(postgres, ca);
    const { GEARSHIFT_TLS_KEY: _lost, ...partial } = whole;
    const g = generatedFor(postgres, ca, partial);
    assert.notEqual(g.GEARSHIFT_TLS_CERT, whole.GEARSHIFT_TLS_CERT);
    assert.ok(new X509Certificate(g.GEARSHIFT_TLS_CERT).checkPrivateKey(createPrivateKey(g.GEARSHIFT_TLS_KEY)));
  });
});
