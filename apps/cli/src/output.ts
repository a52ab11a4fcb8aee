import type { Operation } from './api-types';
import type { ApiClient } from './client';

/**
 * Cuts text to fit a table's column: its first line, at most `max` characters. A cut cell ends with "…" (a long
 * line, or one followed by more lines), so that a reader can tell; `wide` keeps the whole text, its lines joined
 * with " ⏎ " so that the row stays one line.
 */
export class Cells {
  /** Whether some cell was cut: the table then says how to see it whole. */
  cut = false;

  constructor(readonly wide = false) {}

  fit(text: string | null | undefined, max: number): string {
    const lines = (text ?? '')
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '');
    if (this.wide) return lines.join(' ⏎ ');
    const first = lines[0] ?? '';
    if (first.length <= max && lines.length <= 1) return first;
    this.cut = true;
    return `${first.slice(0, Math.max(0, Math.min(first.length, max - 1))).trimEnd()}…`;
  }

  /** The line that says how to see the cells cut to fit whole. */
  static readonly hint = '(a cell ending in … was cut to fit: add --wide to see it whole, or --json)';

  /** The table, with the hint after it when some cell was cut. */
  note(rendered: string): string {
    return this.cut ? `${rendered}\n${Cells.hint}` : rendered;
  }
}

/** Column-aligned text for people. */
export function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((r) => columns.map((c) => (r[c] === null || r[c] === undefined ? '-' : String(r[c]))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n');
}

/**
 * Follows an operation until it ends, printing each new step as it happens (to stderr, so stdout stays clean for
 * scripts). On a terminal a spinner shows it is alive.
 */
export async function follow(api: ApiClient, op: Operation, quiet: boolean, timeoutS = 600): Promise<Operation> {
  const tty = process.stderr.isTTY && !quiet;
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let shown = 0;
  let frame = 0;
  const started = Date.now();
  let current = op;
  for (;;) {
    if (!quiet) {
      for (const step of current.steps.slice(shown)) {
        if (tty) process.stderr.write('\r\x1b[K');
        process.stderr.write(`  · ${step.text}\n`);
      }
      shown = current.steps.length;
    }
    if (current.state === 'succeeded' || current.state === 'failed') break;
    if (Date.now() - started > timeoutS * 1000) break;
    if (tty) process.stderr.write(`\r${frames[frame++ % frames.length]} ${current.kind} ${current.state} (${Math.round((Date.now() - started) / 1000)} s)`);
    await new Promise((r) => setTimeout(r, 250));
    current = await api.operation(op.id);
  }
  if (tty) process.stderr.write('\r\x1b[K');
  if (!quiet) {
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    if (current.state === 'succeeded') process.stderr.write(`✔ ${current.kind} succeeded in ${secs} s\n`);
    else if (current.state === 'failed') process.stderr.write(`✖ ${current.kind} failed: ${current.error}\n`);
    else process.stderr.write(`… ${current.kind} is still ${current.state}; follow it with: gearshift operations show ${current.id}\n`);
  }
  return current;
}
