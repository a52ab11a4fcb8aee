/**
 * Procfiles as Heroku defined them (and Render, Railway and Dokku follow): one `type: command` per line, blank
 * lines and `#` comments ignored. `web` is the command of the app's web gears, `release` runs once per deployment
 * before the release takes traffic, and every other type runs as gears of its own (a worker, a clock).
 */
export interface Procfile {
  processes: Map<string, string>;
  /** Lines that are not `type: command`, by number, so that a typo is reported rather than silently dropped. */
  ignored: number[];
}

/**
 * A process type's name: what Heroku accepts, and what a container name and a Docker label can carry; but none of
 * the names every object carries (`constructor`, `__proto__`, `toString` ...): process types are looked up by name.
 */
export const PROCESS_TYPE =
  /^(?!(?:constructor|__proto__|toString|toLocaleString|valueOf|hasOwnProperty|isPrototypeOf|propertyIsEnumerable|__defineGetter__|__defineSetter__|__lookupGetter__|__lookupSetter__)$)[A-Za-z0-9_-]{1,30}$/;

export function parseProcfile(text: string): Procfile {
  const processes = new Map<string, string>();
  const ignored: number[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (/^\s*(#.*)?$/.test(line)) return;
    const m = /^([A-Za-z0-9_-]+)\s*:\s*(.*\S)\s*$/.exec(line);
    if (!m || !PROCESS_TYPE.test(m[1])) ignored.push(i + 1);
    else processes.set(m[1], m[2]);
  });
  return { processes, ignored };
}

/**
 * A Procfile line's command as a container runs it: by a shell, as Heroku does, so that `$PORT` and other
 * variables expand when the gear starts, and with exec so that the app itself receives the stop signal.
 */
export function procfileCommand(line: string): string[] {
  return ['/bin/sh', '-c', `exec ${line}`];
}

/** The process types that run as gears of their own: every one but `web` (the web gears) and `release` (once). */
export function gearProcessTypes(processes: Record<string, string> | Map<string, string>): string[] {
  const names = processes instanceof Map ? [...processes.keys()] : Object.keys(processes);
  return names.filter((n) => n !== 'web' && n !== 'release').sort();
}

/**
 * The process types a release starts a first gear of when it begins to serve: those it names that the release it
 * replaces did not (a type that release named with no gear was scaled to 0, and stays so) and that run no gear yet.
 */
export function newProcessTypes(
  processes: Record<string, string> | Map<string, string>,
  previous: Record<string, string>,
  running: Iterable<string | null | undefined>,
): string[] {
  const have = new Set(running);
  return gearProcessTypes(processes).filter((t) => previous[t] === undefined && !have.has(t));
}

/**
 * How many gears of each process type a release runs once it serves: as many as run now (`running`: the process
 * type of each of the app's gears), a type new to it one (see newProcessTypes). Types it no longer names run none.
 */
export function releaseProcessGears(
  processes: Record<string, string> | Map<string, string>,
  previous: Record<string, string>,
  running: readonly (string | null | undefined)[],
): Record<string, number> {
  const added = new Set(newProcessTypes(processes, previous, running));
  return Object.fromEntries(gearProcessTypes(processes).map((t) => [t, added.has(t) ? 1 : running.filter((r) => r === t).length]));
}
