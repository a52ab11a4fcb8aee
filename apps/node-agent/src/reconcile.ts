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
  // Services before web gears, so that a web gear finds its database when it starts; a named service after those it
  // depends on (see GearSpec.startsAfter).
  starts.sort((a, b) => Number((a as { spec: GearSpec }).spec.web) - Number((b as { spec: GearSpec }).spec.web));
  actions.push(...dependenciesFirst(starts as Extract<Action, { spec: GearSpec }>[]));

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

/**
 * The starts in the same order, except that a gear comes after the gears of the services it starts after (each gear
 * once its own are placed). A cycle, which the broker refuses, leaves the rest as they were.
 */
function dependenciesFirst<T extends { spec: GearSpec }>(starts: T[]): T[] {
  const ordered: T[] = [];
  const left = [...starts];
  while (left.length > 0) {
    const pending = new Set(left.map((a) => a.spec.service).filter((s): s is string => s !== undefined));
    const i = left.findIndex((a) => !(a.spec.startsAfter ?? []).some((s) => pending.has(s) && s !== a.spec.service));
    ordered.push(...left.splice(i < 0 ? 0 : i, 1));
  }
  return ordered;
}

export const isEmptyPlan = (p: Plan) =>
  p.actions.length === 0 && p.ensureNetworks.length === 0 && p.ensureVolumes.length === 0 && p.removeNetworks.length === 0 && p.removeVolumes.length === 0;
