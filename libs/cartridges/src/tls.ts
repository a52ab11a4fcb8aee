import { spawn } from 'node:child_process';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/**
 * What is wrong with a certificate and key offered for a host, with the field to blame. `invalid` is unreadable
 * input (not PEM, half a pair); `rule` is a readable pair that breaks a rule (weak key, wrong host, out of date).
 */
export interface TlsProblem {
  kind: 'invalid' | 'rule';
  pointer: '/certificate' | '/key';
  rule: string;
  message: string;
}

/** Keys the router serves: RSA of at least this many bits, the two NIST curves HAProxy's OpenSSL negotiates, or Ed25519. */
export const MIN_RSA_BITS = 2048;
const CURVES = new Set(['prime256v1', 'secp384r1']);

/** Why this key is too weak to be served, or null. */
export function keyWeakness(key: KeyObject): string | null {
  const d = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return (d.modulusLength ?? 0) >= MIN_RSA_BITS ? null : `is an RSA key of ${d.modulusLength} bits; at least ${MIN_RSA_BITS} are needed`;
    case 'ec':
      return d.namedCurve && CURVES.has(d.namedCurve) ? null : `is an EC key on ${d.namedCurve ?? 'an unnamed curve'}; P-256 or P-384 is needed`;
    case 'ed25519':
      return null;
    default:
      return `is a ${key.asymmetricKeyType ?? 'unknown'} key; RSA (${MIN_RSA_BITS} bits or more), EC P-256 or P-384, or Ed25519 is needed`;
  }
}

/**
 * Checks a certificate and key for one host: both are PEM, the key is strong enough and belongs to the
 * certificate, the certificate covers the host and is in date at `now`. Pure (no files, no processes).
 */
export function tlsPairProblem(host: string, certificate: string | undefined, key: string | undefined, now: number = Date.now()): TlsProblem | null {
  if (!certificate || !key) {
    return {
      kind: 'invalid',
      pointer: certificate ? '/key' : '/certificate',
      rule: 'required',
      message: 'is required when the other half of the TLS pair is given',
    };
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certificate);
  } catch {
    return { kind: 'invalid', pointer: '/certificate', rule: 'pem', message: 'is not a PEM certificate' };
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    return { kind: 'invalid', pointer: '/key', rule: 'pem', message: 'is not a PEM private key (an encrypted key needs its passphrase removed)' };
  }
  const weak = keyWeakness(privateKey);
  if (weak) return { kind: 'rule', pointer: '/key', rule: 'key-strength', message: weak };
  if (!x509.checkPrivateKey(privateKey)) return { kind: 'rule', pointer: '/key', rule: 'key-matches', message: 'does not belong to the certificate' };
  if (!x509.checkHost(host)) {
    return {
      kind: 'rule',
      pointer: '/certificate',
      rule: 'covers-host',
      message: `does not cover ${host} (subject ${x509.subject.replace(/\n/g, ', ')}; alt names ${x509.subjectAltName ?? 'none'})`,
    };
  }
  const validTo = new Date(x509.validTo).getTime();
  if (validTo < now) return { kind: 'rule', pointer: '/certificate', rule: 'in-date', message: `expired on ${new Date(validTo).toISOString()}` };
  // A certificate issued a moment ago on a machine whose clock runs a little ahead is in date all the same.
  const validFrom = new Date(x509.validFrom).getTime();
  if (validFrom > now + CLOCK_SKEW_MS)
    return { kind: 'rule', pointer: '/certificate', rule: 'in-date', message: `is not valid before ${new Date(validFrom).toISOString()}` };
  return null;
}

const CLOCK_SKEW_MS = 10 * 60_000;

/** The full path of `name` on the PATH, or null. */
export function onPath(name: string, path: string = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  return null;
}

/**
 * Asks HAProxy itself whether it loads this certificate and key (one PEM): `haproxy -c` of a minimal configuration
 * that serves it, in a scratch folder removed afterwards, killed after `timeoutMs`. Resolves with HAProxy's
 * complaint, or null when it accepts the pair.
 */
export function haproxyRefusal(haproxy: string, pem: string, timeoutMs = 5000): Promise<string | null> {
  const dir = mkdtempSync(join(tmpdir(), 'gearshift-tls-'));
  const config = [
    'global',
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 1s',
    '  timeout server 1s',
    'frontend check',
    `  bind unix@${join(dir, 'check.sock')} ssl crt ${join(dir, 'pair.pem')}`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'pair.pem'), pem, { mode: 0o600 });
  writeFileSync(join(dir, 'check.cfg'), config);
  return new Promise<string | null>((resolve) => {
    let output = '';
    let settled = false;
    const done = (refusal: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      resolve(refusal);
    };
    const child = spawn(haproxy, ['-c', '-q', '-f', join(dir, 'check.cfg')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done(`HAProxy did not answer within ${Math.round(timeoutMs / 1000)} s`);
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    child.on('error', (err) => done(`HAProxy could not be run: ${err.message}`));
    child.on('close', (code) => done(code === 0 ? null : haproxyComplaint(output, dir)));
  });
}

/** HAProxy's alerts, shortened to what tells the user why, without the scratch folder's path. */
function haproxyComplaint(output: string, dir: string): string {
  const alerts = output
    .split('\n')
    .filter((l) => l.includes('ALERT') && !/Fatal errors|Error\(s\) found/.test(l))
    .map((l) =>
      l
        .replace(/^\[ALERT\]\s*\(\d+\)\s*:\s*/, '')
        .replaceAll(dir, '')
        .trim(),
    );
  return (alerts.join('; ') || output.trim() || 'HAProxy refused it').slice(0, 500);
}
