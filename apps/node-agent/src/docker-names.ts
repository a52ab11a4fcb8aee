/** Errors and names at the Docker Engine's door, shared by the parts of the Docker adapter. */

export class DockerError extends Error {
  constructor(
    message: string,
    readonly statusCode?: number,
  ) {
    super(message);
    this.name = 'DockerError';
  }
}

export const statusOf = (err: unknown) => (err as { statusCode?: number })?.statusCode;

/**
 * Image references and object names travel in the Engine's URL paths. The Engine answers a path its router would
 * clean (`//`, a `.` or `..` segment: `file:///etc/passwd`) with a redirect, and the Docker client follows it to a
 * host named after the path, on a request no one listens to for errors: the process would die. So only what
 * Docker's own grammar allows leaves here, whoever sent it; the rest is refused as bad input (400).
 */
export function checkName(what: string, value: string): string {
  const bad = (rule: string) => new DockerError(`${what} "${String(value).slice(0, 200)}" ${rule}`, 400);
  if (typeof value !== 'string' || value.length === 0) throw bad('is empty');
  if (value.length > 512) throw bad('is longer than 512 characters');
  if (!/^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/.test(value)) throw bad('may hold only letters, digits and . _ - / : @, and must start with a letter or digit');
  if (/\/\/|\/\.|\/$/.test(value)) throw bad('has an empty or dot path segment');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) throw bad('is a URL, not an image reference');
  return value;
}
