/**
 * Procfiles as Heroku defined them (and Render, Railway and Dokku follow): one `type: command` per line, blank
 * lines and `#` comments ignored. `web` is the command of the app's web gears; other types are for later.
 */
export interface Procfile {
  processes: Map<string, string>;
  /** Lines that are not `type: command`, by number, so that a typo is reported rather than silently dropped. */
  ignored: number[];
}

export function parseProcfile(text: string): Procfile {
  const processes = new Map<string, string>();
  const ignored: number[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (/^\s*(#.*)?$/.test(line)) return;
    const m = /^([A-Za-z0-9_-]+)\s*:\s*(.*\S)\s*$/.exec(line);
    if (!m) ignored.push(i + 1);
    else processes.set(m[1], m[2]);
  });
  return { processes, ignored };
}

/**
 * The image command for a Procfile's `web:` line: run by a shell, as Heroku does, so that `$PORT` and other
 * variables expand when the gear starts, and with exec so that the app itself receives the stop signal.
 */
export function procfileCommand(web: string): string[] {
  return ['/bin/sh', '-c', `exec ${web}`];
}

/** What the build output says about a Procfile: the start command, and what is not run yet. */
export function describeProcfile(p: Procfile): string[] {
  const lines: string[] = [];
  const web = p.processes.get('web');
  if (web) lines.push(`start command: ${web} (the Procfile's web process)`);
  else lines.push('the Procfile has no web process; the cartridge starts the app as it does without one');
  const others = [...p.processes.keys()].filter((k) => k !== 'web');
  if (others.length > 0) {
    lines.push(
      `note: the Procfile's ${others.join(', ')} process${others.length > 1 ? 'es are' : ' is'} not run yet; only web is. ` +
        (others.includes('release') ? 'For a step before each release takes traffic, use a deploy hook (.gearshift/hooks/deploy). ' : '') +
        'Run other processes as their own app for now.',
    );
  }
  if (p.ignored.length > 0) lines.push(`note: Procfile line(s) ${p.ignored.join(', ')} are not "name: command" and were ignored`);
  return lines;
}
