import { randomBytes } from 'node:crypto';

/** A secret token with a readable prefix (`gst_` API tokens, `gsj_` join tokens). */
export function randomToken(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString('base64url')}`;
}
