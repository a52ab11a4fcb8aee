/**
 * The last line of defence of a long-running Gearshift process (broker, node agent, router). Every stream, emitter
 * and promise is meant to have its own error path; one that was missed must not take down a process that serves
 * many apps, so it is logged with its stack and the process keeps serving. Errors that keep coming mean the process
 * is in a state it will not leave by itself: then it exits, and its supervisor starts a fresh one.
 */
export interface LastResortOptions {
  /** More unexpected errors than this within `windowMs` end the process. */
  maxErrors?: number;
  windowMs?: number;
  /** Called instead of process.exit (tests). */
  exit?: (code: number) => void;
}

/** The exit code of a process that gave up after too many unexpected errors (EX_SOFTWARE). */
export const EXIT_UNEXPECTED = 70;

export function lastResort(log: (message: string) => void, opts: LastResortOptions = {}): (kind: string, err: unknown) => void {
  const max = opts.maxErrors ?? 20;
  const windowMs = opts.windowMs ?? 60_000;
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const recent: number[] = [];
  return (kind, err) => {
    const now = Date.now();
    recent.push(now);
    while (recent.length > 0 && recent[0] < now - windowMs) recent.shift();
    const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
    if (recent.length > max) {
      log(`${kind}: ${text}\n${recent.length} unexpected errors within ${Math.round(windowMs / 1000)} s; exiting so that a fresh process takes over`);
      exit(EXIT_UNEXPECTED);
      return;
    }
    log(`${kind} (logged; still serving): ${text}`);
  };
}

/** Installs lastResort() for uncaught exceptions and unhandled rejections of this process. */
export function surviveUnexpectedErrors(log: (message: string) => void, opts: LastResortOptions = {}): void {
  const handle = lastResort(log, opts);
  process.on('uncaughtException', (err) => handle('uncaught exception', err));
  process.on('unhandledRejection', (reason) => handle('unhandled rejection', reason));
}
