import type { Cartridge } from './manifest';
import type { CartridgeManifest } from './manifest.schema';

/**
 * Several versions of one runtime side by side: `nodejs-18`, `nodejs-22` and `nodejs-24` are the family `nodejs`.
 * A bare family name in a request or a gearshift.yml means the newest current cartridge of the family; a full name
 * pins one. Deprecated cartridges stay for the apps that use them, and a new app on one is warned.
 */

/** The family of a versioned cartridge name (`postgresql-17` → `postgresql`); null for an unversioned one. */
export function cartridgeFamily(name: string): string | null {
  const m = /^(.+?)-[0-9][0-9a-z.]*$/.exec(name);
  return m ? m[1] : null;
}

export type RuntimeStatus = 'current' | 'deprecated';

export interface Lifecycle {
  version: string;
  status: RuntimeStatus;
  endOfLife: string | null;
}

export function lifecycleOf(m: CartridgeManifest): Lifecycle {
  return { version: m.version, status: m.status ?? 'current', endOfLife: m['end-of-life'] ?? null };
}

const byVersion = (a: Cartridge, b: Cartridge) => a.manifest.version.localeCompare(b.manifest.version, undefined, { numeric: true });

/** The cartridges of a family, oldest version first. */
export function familyMembers(family: string, catalog: Map<string, Cartridge>): Cartridge[] {
  return [...catalog.values()].filter((c) => cartridgeFamily(c.manifest.name) === family).sort(byVersion);
}

/**
 * The cartridge a new app gets for a family: the newest current one, else (every version deprecated) the newest.
 * Undefined when the catalogue has none of the family.
 */
export function newestOf(family: string, catalog: Map<string, Cartridge>): Cartridge | undefined {
  const members = familyMembers(family, catalog);
  const current = members.filter((c) => lifecycleOf(c.manifest).status === 'current');
  return (current.length > 0 ? current : members).at(-1);
}

export interface ResolvedCartridge {
  cartridge: Cartridge;
  /** Set when the request named a family rather than a cartridge. */
  alias?: string;
  /** Set when the cartridge is deprecated: what a new app on it is told. */
  warning?: string;
}

/**
 * What a name in a request means: a cartridge of that name, else the newest current cartridge of that family.
 * Undefined when it is neither.
 */
export function resolveCartridge(name: string, catalog: Map<string, Cartridge>): ResolvedCartridge | undefined {
  const exact = catalog.get(name);
  const cartridge = exact ?? newestOf(name, catalog);
  if (!cartridge) return undefined;
  const warning = deprecationWarning(cartridge, catalog);
  return { cartridge, ...(exact ? {} : { alias: name }), ...(warning ? { warning } : {}) };
}

/** The name a request means (itself when it is neither a cartridge nor a family: the caller reports it unknown). */
export function resolveCartridgeName(name: string, catalog: Map<string, Cartridge>): string {
  return resolveCartridge(name, catalog)?.cartridge.manifest.name ?? name;
}

/** What an app's owner is told about a deprecated cartridge: since or until when, and what replaces it. */
export function deprecationWarning(c: Cartridge, catalog: Map<string, Cartridge>): string | undefined {
  const life = lifecycleOf(c.manifest);
  if (life.status !== 'deprecated') return undefined;
  const family = cartridgeFamily(c.manifest.name);
  const successor = family ? newestOf(family, catalog) : undefined;
  const instead = successor && successor !== c && lifecycleOf(successor.manifest).status === 'current' ? `; ${successor.manifest.name} is current` : '';
  const eol = life.endOfLife ? `, end of life ${life.endOfLife}` : '';
  return `${c.manifest.name} is deprecated (${c.manifest['display-name']}${eol})${instead}`;
}

/**
 * Why an app's `from` cannot move to `to` in one upgrade that keeps its data, or null when it can: `to` names `from`
 * in its `upgrades-from` (a newer major of the same family, or a drop-in such as Valkey for Redis), and both know how
 * to dump and restore their data.
 */
export function upgradeProblem(from: string, to: string, catalog: Map<string, Cartridge>): string | null {
  const old = catalog.get(from);
  const next = catalog.get(to);
  if (!next) return `${to} is not in the catalogue`;
  if (!old) return `${from} is not in the catalogue`;
  if (from === to) return `the app already runs ${to}`;
  const allowed = upgradesTo(from, catalog);
  if (!allowed.includes(to)) {
    return `${from} cannot be upgraded to ${to}${allowed.length ? `; it can move to ${allowed.join(', ')}` : '; no cartridge takes over its data'}`;
  }
  return null;
}

/** The cartridges that take over `from`'s data in one upgrade, oldest first. */
export function upgradesTo(from: string, catalog: Map<string, Cartridge>): string[] {
  const old = catalog.get(from);
  if (!old?.manifest.snapshot) return [];
  return [...catalog.values()]
    .filter(
      (c) =>
        (c.manifest['upgrades-from'] ?? []).includes(from) &&
        c.manifest.snapshot &&
        Boolean(c.manifest.snapshot.protocol) === Boolean(old.manifest.snapshot!.protocol),
    )
    .sort(byVersion)
    .map((c) => c.manifest.name);
}
