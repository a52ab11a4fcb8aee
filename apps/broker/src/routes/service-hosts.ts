import { conflict, ruleViolation } from '../common/errors';
import type { ReleaseService } from '../apps/deployment.entity';
import type { AliasesRepository } from './aliases.repository';
import { checkAliasHolder, checkAliasHost } from './aliases.service';

/** Every host name a release's web services name as their own, host → service, lower case. */
export function serviceHostsOf(services: Record<string, Pick<ReleaseService, 'kind' | 'hosts'>>): Map<string, string> {
  const hosts = new Map<string, string>();
  for (const [name, s] of Object.entries(services)) if (s.kind === 'web') for (const h of s.hosts ?? []) hosts.set(h.toLowerCase(), name);
  return hosts;
}

/**
 * Holds the host names a release's web services name, with the rules of aliases: a DNS name outside the apps domain
 * (so never another app's own host name), first claim wins across teams, and one holder per host name. A host the
 * app holds as an alias set through the API stays that: the service cannot take it from under it. Throws the API
 * error for the first host that breaks a rule, its pointer `at/services/NAME/hosts/N`; holds them all otherwise.
 */
export async function holdServiceHosts(
  aliases: AliasesRepository,
  app: { id: string; teamId: string },
  services: Record<string, Pick<ReleaseService, 'kind' | 'hosts'>>,
  appsDomain: string,
  at: string,
): Promise<void> {
  const seen = new Map<string, string>();
  for (const [name, s] of Object.entries(services)) {
    if (s.kind !== 'web') continue;
    for (const [i, given] of (s.hosts ?? []).entries()) {
      const host = given.toLowerCase();
      const pointer = `${at}/services/${name}/hosts/${i}`;
      checkAliasHost(host, appsDomain, pointer);
      const other = seen.get(host);
      if (other && other !== name)
        throw ruleViolation(pointer, 'one-service-per-host', `${host} is also a host name of web service ${other}; a host name routes to one service`);
      seen.set(host, name);
      const holder = await aliases.holderOf(host);
      checkAliasHolder(host, holder, app.teamId, pointer);
      if (holder && holder.appId !== app.id)
        throw conflict(`the host name ${host} is already held by another app`, [{ pointer, rule: 'unique', message: 'is taken by another app' }]);
      if (holder && holder.service === null)
        throw conflict(`the host name ${host} is an alias of this app; remove the alias (DELETE .../aliases/${host}) to give it to web service ${name}`, [
          { pointer, rule: 'unique', message: 'is an alias of the app' },
        ]);
    }
  }
  const missed = await aliases.holdServiceHosts(app.id, seen);
  if (missed.length > 0) {
    const [name, s] = Object.entries(services).find(([, x]) => x.hosts?.some((h) => h.toLowerCase() === missed[0]))!;
    const i = s.hosts!.findIndex((h) => h.toLowerCase() === missed[0]);
    throw conflict(`the host name ${missed[0]} was taken by another app meanwhile`, [
      { pointer: `${at}/services/${name}/hosts/${i}`, rule: 'unique', message: 'is taken' },
    ]);
  }
}
