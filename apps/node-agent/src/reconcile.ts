import { LABELS, specHash, type GearSpec } from '@gearshift/cartridges';
import type { ObservedContainer } from './docker.adapter';

/** One step that brings a node's containers of an app closer to the desired specs. */
export type Action =
  | { kind: 'create'; spec: GearSpec }
  | { kind: 'replace'; spec: GearSpec; containerId: string }
  | { kind: 'start'; spec: GearSpec; containerId: string }
  | { kind: 'stop'; spec: GearSpec; containerId: string }
  | { kind: 'remove'; containerId: string; reason: string };

export interface Plan {
  /** Networks to create (none when the app has no gear left here). */
  ensureNetworks: string[];
  ensureVolumes: string[];
  /** In order: removals and stops first, then the app's services, then its web gears. */
  actions: Action[];
  removeNetworks: string[];
  removeVolumes: string[];
}

export interface Observed {
  containers: ObservedContainer[];
  networks: string[];
  volumes: string[];
}

const runningStates = new Set(['running', 'restarting']);

/**
 * Compares the desired gears of one app on this node with what Docker has, and lists exactly the actions that
 * converge the two. Pure: the same inputs always give the same plan; an empty plan means nothing to do.
 */
export function planConverge(desired: GearSpec[], observed: Observed): Plan {
  const actions: Action[] = [];
  const byGear = new Map<string, ObservedContainer[]>();
  for (const c of observed.containers) {
    const gear = c.labels[LABELS.gear];
    byGear.set(gear, [...(byGear.get(gear) ?? []), c]);
  }
  const wanted = new Set(desired.map((s) => s.gearId));
  for (const c of observed.containers) {
    if (!wanted.has(c.labels[LABELS.gear])) actions.push({ kind: 'remove', containerId: c.id, reason: 'belongs to no desired gear' });
  }

  const starts: Action[] = [];
  for (const spec of desired) {
    const hash = specHash(spec);
    const containers = byGear.get(spec.gearId) ?? [];
    // Keep the container built from the current spec if there is one; any other copy goes.
    const keep = containers.find((c) => c.labels[LABELS.specHash] === hash) ?? containers[0];
    for (const c of containers) {
      if (c !== keep) actions.push({ kind: 'remove', containerId: c.id, reason: 'duplicate container of a gear' });
    }
    if (!keep) {
      starts.push({ kind: 'create', spec });
    } else if (keep.labels[LABELS.specHash] !== hash) {
      starts.push({ kind: 'replace', spec, containerId: keep.id });
    } else if (spec.running && !runningStates.has(keep.state)) {
      starts.push({ kind: 'start', spec, containerId: keep.id });
    } else if (!spec.running && runningStates.has(keep.state)) {
      actions.push({ kind: 'stop', spec, containerId: keep.id });
    }
  }
  // Services before web gears, so that a web gear finds its database when it starts.
  starts.sort((a, b) => Number((a as { spec: GearSpec }).spec.web) - Number((b as { spec: GearSpec }).spec.web));
  actions.push(...starts);

  const networks = [...new Set(desired.map((s) => s.network))];
  const volumes = [...new Set(desired.flatMap((s) => s.volumes.map((v) => v.name)))];
  return {
    ensureNetworks: networks.filter((n) => !observed.networks.includes(n)),
    ensureVolumes: volumes.filter((v) => !observed.volumes.includes(v)),
    actions,
    removeNetworks: observed.networks.filter((n) => !networks.includes(n)),
    removeVolumes: observed.volumes.filter((v) => !volumes.includes(v)),
  };
}

export const isEmptyPlan = (p: Plan) =>
  p.actions.length === 0 && p.ensureNetworks.length === 0 && p.ensureVolumes.length === 0 && p.removeNetworks.length === 0 && p.removeVolumes.length === 0;

/** Which gears start first: the cartridges' own (databases, caches), then services and process gears, then web gears. */
const tierOf = (spec: GearSpec): number => (spec.web ? 2 : spec.service || spec.process ? 1 : 0);

/** Whether a name in a `waitsFor` list means this gear: its service's name, or a cartridge gear's cartridge. */
const isNamed = (spec: GearSpec, name: string): boolean => (spec.service ? spec.service === name : !spec.process && !spec.web && spec.cartridge === name);

/** Whether other gears reach the gear: a cartridge's gear, or a service or process gear that listens on a port. */
const isReached = (spec: GearSpec): boolean => tierOf(spec) === 0 || spec.ports.length > 0;

/** What a gear is one of: its service, its Procfile process, or (a cartridge's gear) its cartridge. */
const groupOf = (spec: GearSpec): string =>
  spec.service ? `service ${spec.service}` : spec.process ? `process ${spec.process}` : `cartridge ${spec.cartridge}`;

/**
 * For each gear a converge starts, the gears that must be healthy before it starts, as indexes of `[...specs,
 * ...serving]`; the others start at the same time. `serving` are the gears the pass leaves running as they are (those
 * of the release before, beside which a rollout starts the new ones). A web gear waits for the other gears it may
 * reach (the cartridges' gears, and service and process gears with a port; not workers), a service or process gear
 * for the cartridges' gears that start (its database), and any gear for the services and cartridges it names in
 * `waitsFor`, when they are of its own or an earlier tier. A service or cartridge that has a gear serving already is
 * waited for through that gear, which answers by the same name on the app's network: its new gears start beside the
 * ones that wait for it, rather than before them. Should the names wait for each other in a circle (a descriptor
 * never lets them), they are ignored and the tiers alone order the start. Pure.
 */
export function startPrerequisites(specs: GearSpec[], serving: GearSpec[] = []): number[][] {
  const all = [...specs, ...serving];
  const tiers = all.map(tierOf);
  const isServing = (j: number) => j >= specs.length;
  const byTier = (i: number) =>
    all.flatMap((other, j) => (j !== i && tiers[j] < tiers[i] && (tiers[i] === 2 ? isReached(other) : tiers[j] === 0 && !isServing(j)) ? [j] : []));
  const named = (i: number) =>
    (specs[i].waitsFor ?? []).flatMap((name) => all.flatMap((other, j) => (j !== i && tiers[j] <= tiers[i] && isNamed(other, name) ? [j] : [])));
  // The new gears of what has a gear serving already are no one's prerequisites: the serving gear is.
  const throughServing = (indexes: number[]) => {
    const served = new Set(indexes.filter(isServing).map((j) => groupOf(all[j])));
    return [...new Set(indexes.filter((j) => isServing(j) || !served.has(groupOf(all[j]))))].sort((a, b) => a - b);
  };
  const tiersOnly = specs.map((_, i) => throughServing(byTier(i)));
  const withNames = specs.map((_, i) => throughServing([...byTier(i), ...named(i)]));
  return hasCycle(withNames) ? tiersOnly : withNames;
}

/** A gear that is healthy once it has kept running for the settle time, counted from its start: a worker. */
export const settles = (spec: GearSpec): boolean => spec.health.kind === 'none' && Boolean(spec.service || spec.process);

/**
 * The gears of a pass whose containers start before the others': those that settle (see settles()) and wait for no
 * gear the pass starts (only, if at all, for gears left serving), as indexes of `specs`; `prerequisites` is
 * startPrerequisites() of the same pass. Their wait is the pass's longest and runs from their start, while the
 * Engine starts one container after another. Pure.
 */
export function settlesFirst(specs: GearSpec[], prerequisites: number[][]): number[] {
  return specs.flatMap((spec, i) => (spec.running && settles(spec) && prerequisites[i].every((j) => j >= specs.length) ? [i] : []));
}

function hasCycle(edges: number[][]): boolean {
  const state = edges.map(() => 0); // 0 unseen, 1 on the path, 2 done
  const visit = (i: number): boolean => {
    // A gear serving already (an index past the started ones) waits for nothing.
    if (i >= edges.length) return false;
    if (state[i] === 1) return true;
    if (state[i] === 2) return false;
    state[i] = 1;
    if (edges[i].some(visit)) return true;
    state[i] = 2;
    return false;
  };
  return edges.some((_, i) => visit(i));
}
