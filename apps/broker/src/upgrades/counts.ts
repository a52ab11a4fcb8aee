/** Row counts of a database (table → rows; for Redis, `keys` → keys), as an upgrade compares them. */
export type Counts = Record<string, number>;

/** The differences between the counts before and after an upgrade, one sentence each; none when every row is there. */
export function compareCounts(before: Counts, after: Counts): string[] {
  const out: string[] = [];
  for (const name of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) {
    const a = before[name];
    const b = after[name];
    if (a === b) continue;
    if (b === undefined) out.push(`${name} (${a} row(s)) is missing`);
    else if (a === undefined) out.push(`${name} (${b} row(s)) was not there before`);
    else out.push(`${name} has ${b} row(s) instead of ${a}`);
  }
  return out;
}

/** `3 table(s), 10002 row(s) (items 10000, notes 2)`, or the keys of a cache. */
export function describeCounts(counts: Counts): string {
  const names = Object.keys(counts).sort();
  if (names.length === 1 && names[0] === 'keys') return `${counts.keys} key(s)`;
  const total = names.reduce((n, k) => n + counts[k], 0);
  const each = names.slice(0, 8).map((k) => `${k} ${counts[k]}`);
  return `${names.length} table(s), ${total} row(s)${each.length ? ` (${each.join(', ')}${names.length > 8 ? ', …' : ''})` : ''}`;
}

/**
 * Why the counts can differ, after what differs: the old database took no writes during the copy when its cartridge
 * can refuse them, so only the restore (or a client the refusal does not bind) can be the cause; otherwise writes
 * that came after the dump.
 */
export function explainDifferences(differences: string[], ctx: { from: string; to: string; quiesced?: boolean }): string {
  const why = ctx.quiesced
    ? `${ctx.from} took no writes during the copy, so the restore into ${ctx.to} left rows out, or a client that the refusal does not bind (an administrator's session) wrote`
    : `${ctx.from} kept taking writes during the copy: rows written after its dump are not in ${ctx.to}`;
  return `${differences.join('; ')} (${why}); nothing was switched, try again`;
}
