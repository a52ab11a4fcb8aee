import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';

/** A self-signed certificate and key made by openssl, naming every host in `names`. */
export function selfSigned(names: string[], bits = 2048): { certificate: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gearshift-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        `rsa:${bits}`,
        '-nodes',
        '-days',
        '2',
        '-subj',
        `/CN=${names[0]}`,
        '-addext',
        `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`,
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return { certificate: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The certificate a TLS server on loopback answers a handshake for `servername` with (its SHA-256 fingerprint), or the error. */
export function servedCertificate(port: number, servername: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.destroy();
      resolve(cert?.fingerprint256 ?? 'no certificate');
    });
    socket.on('error', (err) => resolve(`error: ${err.message}`));
    socket.setTimeout(5000, () => {
      socket.destroy();
      resolve('error: timeout');
    });
  });
}
