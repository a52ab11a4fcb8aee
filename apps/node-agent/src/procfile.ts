import { gearProcessTypes, type Procfile } from '@gearshift/cartridges';

export { parseProcfile, procfileCommand, type Procfile } from '@gearshift/cartridges';

/** What the build output says about a Procfile: the start command, the release command and the other processes. */
export function describeProcfile(p: Procfile): string[] {
  const lines: string[] = [];
  const web = p.processes.get('web');
  if (web) lines.push(`start command: ${web} (the Procfile's web process)`);
  else lines.push('the Procfile has no web process; the cartridge starts the app as it does without one');
  const release = p.processes.get('release');
  if (release) lines.push(`release command: ${release} (the Procfile's release process, run once before the release takes traffic)`);
  for (const type of gearProcessTypes(p.processes)) lines.push(`process ${type}: ${p.processes.get(type)} (runs as gears of its own, without a port)`);
  if (p.ignored.length > 0) lines.push(`note: Procfile line(s) ${p.ignored.join(', ')} are not "name: command" and were ignored`);
  return lines;
}
