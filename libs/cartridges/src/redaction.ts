/**
 * A function that hides each of these values in a line of output as `******`, the longest first so that a value
 * holding another is hidden whole. Values shorter than 4 characters are left alone: hiding them would hide words.
 */
export function redactor(secrets: readonly string[]): (line: string) => string {
  const values = [...new Set(secrets.filter((s) => s.length >= 4))].sort((a, b) => b.length - a.length);
  return (line) => values.reduce((acc, v) => acc.split(v).join('******'), line);
}
