/**
 * What is wrong with a parsed document (a JSON body, a YAML file) that no schema says: nesting deeper than
 * `maxDepth`, or a NUL character in a string or a key (no Postgres text, environment variable or argument can hold
 * one). Walked without recursion, so that the walk itself is safe; answers the JSON pointer of the first bad place.
 */
export function valueProblem(value: unknown, maxDepth: number): { pointer: string; rule: string; message: string } | undefined {
  const stack: [unknown, string, number][] = [[value, '', 0]];
  while (stack.length > 0) {
    const [v, pointer, depth] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\0')) return { pointer, rule: 'no-nul', message: 'must not contain NUL characters' };
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= maxDepth) return { pointer, rule: 'max-depth', message: `nests deeper than ${maxDepth} levels` };
    const entries: [string, unknown][] = Array.isArray(v) ? v.map((x, i) => [String(i), x]) : Object.entries(v);
    for (const [key, child] of entries) {
      const at = `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      if (key.includes('\0')) return { pointer: at, rule: 'no-nul', message: 'is a name with a NUL character' };
      stack.push([child, at, depth + 1]);
    }
  }
  return undefined;
}
