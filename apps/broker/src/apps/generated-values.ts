import { randomBytes } from 'node:crypto';
import type { Cartridge } from '@gearshift/cartridges';
import type { CertificateAuthority, IssuedCertificate } from '../common/certificates';

function generate(kind: 'username' | 'password' | 'token'): string {
  if (kind === 'username') return `u${randomBytes(5).toString('hex')}`;
  if (kind === 'password') return randomBytes(18).toString('base64url');
  return randomBytes(24).toString('hex');
}

/**
 * Values a cartridge generates once per app (credentials, and a TLS certificate with its key, issued together by the
 * platform CA); kept with the app, shown only to its owner on request. Values in `have` are kept: only what a newer
 * manifest added is made (a certificate and its key are made again together when either is missing).
 */
export function generatedFor(c: Cartridge, ca: CertificateAuthority, have: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  const entries = (c.manifest.env ?? []).filter((e) => e.generate);
  const tlsComplete = entries.every((e) => !e.generate!.startsWith('tls-') || have[e.name] !== undefined);
  let tls: IssuedCertificate | undefined;
  for (const e of entries) {
    const kind = e.generate!;
    if (kind === 'tls-certificate' || kind === 'tls-key') {
      if (tlsComplete) out[e.name] = have[e.name];
      else {
        // Clients reach the gear by the cartridge's name on the app's network.
        tls ??= ca.issue([c.manifest.name]);
        out[e.name] = kind === 'tls-key' ? tls.key : tls.certificate;
      }
    } else out[e.name] = have[e.name] ?? generate(kind);
  }
  return out;
}

/** Whether a newer manifest generates something the stored values lack. */
export function lacksGenerated(c: Cartridge, have: Record<string, string>): boolean {
  return (c.manifest.env ?? []).some((e) => e.generate && have[e.name] === undefined);
}
