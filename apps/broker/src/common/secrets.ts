import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { ValueTransformer } from 'typeorm';

/**
 * Secrets at rest: generated credentials, app environment, release environment and TLS keys are sealed with
 * AES-256-GCM before they reach Postgres, so a database dump or backup does not hold them in clear. Values written
 * by a version without sealing are read as they are and sealed when next written.
 */
export const SEALED_PREFIX = 'gs1:';

export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error(`the secret key must be 32 bytes, not ${key.length}`);
  }

  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return SEALED_PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
  }

  open(value: string): string {
    if (!value.startsWith(SEALED_PREFIX)) return value;
    const raw = Buffer.from(value.slice(SEALED_PREFIX.length), 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    try {
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      throw new Error('a sealed secret does not open with this secret key (GEARSHIFT_SECRET_KEY or secret.key in the data directory changed?)');
    }
  }
}

/**
 * The broker's key: GEARSHIFT_SECRET_KEY when given (every broker of one platform needs the same), else `secret.key`
 * in the data directory, made on first start and readable by its owner only.
 */
export function loadSecretKey(given: Buffer | undefined, dataDir: string): Buffer {
  if (given) return given;
  mkdirSync(dataDir, { recursive: true });
  const file = `${dataDir}/secret.key`;
  if (!existsSync(file)) {
    writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
  }
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
}

let box: SecretBox | undefined;

/** Called once at start-up, before the database is read. */
export function useSecretKey(key: Buffer): void {
  box = new SecretBox(key);
}

function current(): SecretBox {
  if (!box) throw new Error('the secret key is not loaded');
  return box;
}

/** A text column whose value is sealed. */
export const sealedText: ValueTransformer = {
  to: (v: string | null | undefined) => (typeof v === 'string' ? current().seal(v) : v),
  from: (v: string | null) => (typeof v === 'string' ? current().open(v) : v),
};

/** A JSON object column of strings whose values are sealed (names stay readable). */
export const sealedValues: ValueTransformer = {
  to: (v: Record<string, string> | null | undefined) => (v ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, current().seal(x)])) : v),
  from: (v: Record<string, string> | null) =>
    v ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, typeof x === 'string' ? current().open(x) : x])) : v,
};
