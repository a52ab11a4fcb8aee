import { createECDH, createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

/**
 * The platform's certificate authority, and the certificates it gives database gears so that they accept TLS.
 *
 * Node can sign but cannot write X.509, so the few DER structures a certificate needs are encoded here. ECDSA P-256
 * throughout: every TLS library a database client uses speaks it, and its keys are made in a millisecond, so a
 * certificate can be issued inside the request that embeds a cartridge.
 */

// ---- DER ---------------------------------------------------------------------------------------------------------

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

const tlv = (tag: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([tag]), length(body.length), body]);
const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const explicit = (n: number, body: Buffer) => tlv(0xa0 + n, body);
const octets = (body: Buffer) => tlv(0x04, body);
const bits = (body: Buffer, unused = 0) => tlv(0x03, Buffer.concat([Buffer.from([unused]), body]));
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));

/** A positive INTEGER from big-endian bytes (a leading zero keeps the sign bit clear). */
function integer(bytes: Buffer): Buffer {
  let b = bytes;
  while (b.length > 1 && b[0] === 0 && b[1] < 0x80) b = b.subarray(1);
  return tlv(0x02, b[0] >= 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a * 40 + b];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >>> 7; v > 0; v >>>= 7) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime until 2049, GeneralizedTime after, as RFC 5280 asks. */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2))) : tlv(0x18, Buffer.from(iso));
}

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const name = (commonName: string) => seq(set(seq(oid('2.5.4.3'), utf8(commonName))));
const extension = (id: string, critical: boolean, value: Buffer) => seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

function toPem(label: string, der: Buffer): string {
  const body = der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

interface CertificateFields {
  subject: string;
  issuer: string;
  publicKey: KeyObject;
  signer: KeyObject;
  notBefore: Date;
  notAfter: Date;
  serial: Buffer;
  extensions: Buffer[];
}

function certificate(f: CertificateFields): string {
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(f.serial),
    ECDSA_SHA256,
    name(f.issuer),
    seq(time(f.notBefore), time(f.notAfter)),
    name(f.subject),
    f.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, seq(...f.extensions)),
  );
  const signature = sign('sha256', tbs, { key: f.signer, dsaEncoding: 'der' });
  return toPem('CERTIFICATE', seq(tbs, ECDSA_SHA256, bits(signature)));
}

// ---- the authority -----------------------------------------------------------------------------------------------

/** The order of the P-256 group: a private key is a number from 1 to n-1. */
const P256_ORDER = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

/**
 * The CA's key derived from the broker's secret key: every broker that shares GEARSHIFT_SECRET_KEY signs with the
 * same CA, and there is no second secret to keep or back up.
 */
function derivedKey(secretKey: Buffer): KeyObject {
  for (let round = 0; ; round++) {
    const d = createHmac('sha256', secretKey).update(`gearshift platform CA ${round}`).digest();
    const n = BigInt(`0x${d.toString('hex')}`);
    if (n === 0n || n >= P256_ORDER) continue;
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(d);
    const point = ecdh.getPublicKey();
    return createPrivateKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        d: d.toString('base64url'),
        x: point.subarray(1, 33).toString('base64url'),
        y: point.subarray(33, 65).toString('base64url'),
      },
      format: 'jwk',
    });
  }
}

export interface IssuedCertificate {
  /** PEM: the gear's certificate followed by the CA's, the chain a server presents. */
  certificate: string;
  /** PEM, PKCS#8. */
  key: string;
}

const CA_NAME = 'Gearshift platform CA';
const YEAR_MS = 365 * 24 * 3600 * 1000;

export class CertificateAuthority {
  readonly certificate: string;

  constructor(private readonly key: KeyObject) {
    // Made again at every start from the same key and fields; only the signature differs, which no client pins.
    this.certificate = certificate({
      subject: CA_NAME,
      issuer: CA_NAME,
      publicKey: createPublicKey(key),
      signer: key,
      notBefore: new Date(Date.UTC(2020, 0, 1)),
      notAfter: new Date(Date.UTC(2099, 11, 31, 23, 59, 59)),
      serial: Buffer.from([1]),
      extensions: [
        extension('2.5.29.19', true, seq(bool(true))),
        // keyCertSign and cRLSign
        extension('2.5.29.15', true, bits(Buffer.from([0x06]), 1)),
      ],
    });
  }

  static fromSecretKey(secretKey: Buffer): CertificateAuthority {
    return new CertificateAuthority(derivedKey(secretKey));
  }

  /** A server certificate for these DNS names (the first is its subject), valid for ten years. */
  issue(dnsNames: string[], now = new Date()): IssuedCertificate {
    if (dnsNames.length === 0) throw new Error('a certificate needs at least one name');
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const leaf = certificate({
      subject: dnsNames[0],
      issuer: CA_NAME,
      publicKey,
      signer: this.key,
      // An hour back: a gear whose clock lags the broker's still accepts its own certificate.
      notBefore: new Date(now.getTime() - 3600 * 1000),
      notAfter: new Date(now.getTime() + 10 * YEAR_MS),
      serial: randomBytes(16),
      extensions: [
        extension('2.5.29.19', true, seq()),
        // digitalSignature: all an ECDHE-ECDSA handshake needs of the key
        extension('2.5.29.15', true, bits(Buffer.from([0x80]), 7)),
        extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))),
        extension('2.5.29.17', false, seq(...dnsNames.map((n) => tlv(0x82, Buffer.from(n, 'ascii'))))),
      ],
    });
    return { certificate: leaf + this.certificate, key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
  }
}
