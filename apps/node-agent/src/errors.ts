/** A failure that retrying cannot fix (a build error, an image that cannot be pulled, a gear that never gets healthy). */
export class PermanentError extends Error {
  override name = 'PermanentError';
}
