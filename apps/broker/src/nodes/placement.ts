/** Where gears go. Pure: the caller reads node usage under the placement lock and writes the result. */

export interface NodeCandidate {
  id: string;
  name: string;
  /** Only an active node takes gears; any other state (draining, or one a later state adds) is named as the reason. */
  state: string;
  /** The failure domain the node stands in (a rack, a room, a cloud zone); null: a zone of its own. */
  zone?: string | null;
  /** What an operator said of the node (`disk=ssd`); a placement may ask for some of them. */
  labels?: Record<string, string>;
  lastHeartbeat: Date | null;
  memoryMb: number;
  maxGears: number;
  allocatedMb: number;
  gears: number;
}

/**
 * A placement, or why none: `lasting` when the nodes as they are can never take the gears (each is full, or lacks a
 * label asked for), so that waiting changes nothing until an operator adds room; otherwise a node that has not
 * reported, is silent, draining, or none has joined yet, may take them once it is back.
 */
export type Placement = { ok: true; nodeId: string } | { ok: false; shortfall: string; lasting: boolean };

export interface PlacementRequest {
  /** Memory of each gear to place. All of them go to one node, so that an app's gears share its network. */
  gearsMb: number[];
  /** The node that already runs the app's gears: used when it has room. */
  preferNode?: string;
  /**
   * Replicas the app already has per node (anti-affinity): spread placement picks the zone with the fewest of them,
   * then the node with the fewest, then the one with the most room.
   */
  spread?: Record<string, number>;
  /** Labels a node must carry to take the gears. */
  labels?: Record<string, string>;
  now: Date;
  heartbeatTimeoutMs: number;
  /**
   * Whether every node's verdict is put in words (the default), or only the chosen node's, the others being counted
   * by why in `passedOver`: an operation names every node for its first few placements only, and wording a hundred
   * verdicts that are then dropped was most of a placement's time.
   */
  named?: boolean;
}

/** One node a placement looked at, and why it was or was not chosen. */
export interface NodeVerdict {
  node: string;
  zone: string | null;
  chosen: boolean;
  reason: string;
}

/** A placement and its explanation: every node considered, in the order they ranked (the chosen one first). */
export interface ExplainedPlacement {
  placement: Placement;
  considered: NodeVerdict[];
  /**
   * The nodes not chosen, counted by why (`is draining`, `has less free memory`...): the explanation an operation keeps
   * once it has placed more than a few gears, instead of every node's verdict on each.
   */
  passedOver: Record<string, number>;
  /** One line for an operation's step. */
  summary: string;
}

/** Why a node cannot take the gears: its own words, and the same words for every node it befalls (for counting). */
interface Refusal {
  reason: string;
  kind: string;
  /** A refusal for room or labels, which stays until an operator changes the nodes (see Placement). */
  lasting?: boolean;
}

function whyNot(n: NodeCandidate, needMb: number, count: number, req: PlacementRequest): Refusal | null {
  if (n.state !== 'active') return { reason: `${n.name} is ${n.state}`, kind: `is ${n.state}` };
  if (!n.lastHeartbeat) return { reason: `${n.name} has not reported yet`, kind: 'has not reported yet' };
  const silentMs = req.now.getTime() - n.lastHeartbeat.getTime();
  if (silentMs > req.heartbeatTimeoutMs) return { reason: `${n.name} has not reported for ${Math.round(silentMs / 1000)} s`, kind: 'is silent' };
  for (const [key, value] of Object.entries(req.labels ?? {})) {
    if (n.labels?.[key] !== value) return { reason: `${n.name} lacks the label ${key}=${value}`, kind: `lacks the label ${key}=${value}`, lasting: true };
  }
  const free = n.memoryMb - n.allocatedMb;
  if (free < needMb) return { reason: `${n.name} has ${free} MB free`, kind: 'has too little free memory', lasting: true };
  if (n.gears + count > n.maxGears) return { reason: `${n.name} runs ${n.gears} of at most ${n.maxGears} gears`, kind: 'runs its most gears', lasting: true };
  return null;
}

const countBy = (kinds: string[]): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const k of kinds) counts[k] = (counts[k] ?? 0) + 1;
  return counts;
};

/** The zone a node counts in for spread: a node without one is a zone of its own. */
const zoneKey = (n: NodeCandidate) => (n.zone ? `zone:${n.zone}` : `node:${n.id}`);
const free = (n: NodeCandidate) => n.memoryMb - n.allocatedMb;
const plural = (k: number, one: string) => `${k} ${one}${k === 1 ? '' : 's'}`;

/**
 * Picks the node for a group of gears and says why: the preferred node when it fits (and no spread is asked), else
 * across zones first (fewest of the app's replicas), then nodes (fewest replicas, then most free memory, fewest gears,
 * name). Every node considered gets a verdict: the reason it cannot take the gears (state, silence, labels,
 * capacity), or what ranked it below the chosen one.
 */
export function explainPlacement(nodes: NodeCandidate[], req: PlacementRequest): ExplainedPlacement {
  const needMb = req.gearsMb.reduce((a, b) => a + b, 0);
  const count = req.gearsMb.length;
  const what = `${plural(count, 'gear')} needing ${needMb} MB`;
  if (nodes.length === 0) {
    const shortfall = 'no node has joined the platform yet';
    return { placement: { ok: false, shortfall, lasting: false }, considered: [], passedOver: {}, summary: `${what}: ${shortfall}` };
  }
  const named = req.named !== false;
  // A refusal's words are short and made anyway: when no node fits they are what the caller says.
  const refused: NodeVerdict[] = [];
  const refusedKinds: string[] = [];
  const fitting: NodeCandidate[] = [];
  let lasting = true;
  for (const n of nodes) {
    const refusal = whyNot(n, needMb, count, req);
    if (refusal) {
      refused.push({ node: n.name, zone: n.zone ?? null, chosen: false, reason: refusal.reason });
      refusedKinds.push(refusal.kind);
      lasting &&= refusal.lasting === true;
    } else fitting.push(n);
  }
  if (fitting.length === 0) {
    const shortfall = `no node can take ${count} gear(s) needing ${needMb} MB: ${refused.map((v) => v.reason).join('; ')}`;
    return { placement: { ok: false, shortfall, lasting }, considered: refused, passedOver: countBy(refusedKinds), summary: shortfall };
  }
  const verdict = (n: NodeCandidate, chosen: boolean, reason: string): NodeVerdict => ({ node: n.name, zone: n.zone ?? null, chosen, reason });
  const preferred = fitting.find((n) => n.id === req.preferNode);
  if (preferred && !req.spread) {
    const others = fitting.filter((n) => n !== preferred);
    return {
      placement: { ok: true, nodeId: preferred.id },
      considered: [
        verdict(preferred, true, `${preferred.name} runs the app's gears and has ${free(preferred)} MB free`),
        ...(named ? [...others.map((n) => verdict(n, false, `${n.name} fits, but the app's gears run on ${preferred.name}`)), ...refused] : []),
      ],
      passedOver: countBy([...others.map(() => "fits, but the app's gears run elsewhere"), ...refusedKinds]),
      summary: `${what} on ${preferred.name}, beside the app's gears`,
    };
  }
  const spread = req.spread ?? {};
  // Each node's zone total and own count, worked out once: the sort compares them many times.
  const inZone = new Map<string, number>();
  for (const n of nodes) inZone.set(zoneKey(n), (inZone.get(zoneKey(n)) ?? 0) + (spread[n.id] ?? 0));
  const counts = new Map(fitting.map((n) => [n, { zone: inZone.get(zoneKey(n)) ?? 0, node: spread[n.id] ?? 0 }]));
  const zoneCount = (n: NodeCandidate) => counts.get(n)!.zone;
  const nodeCount = (n: NodeCandidate) => counts.get(n)!.node;
  fitting.sort((a, b) => zoneCount(a) - zoneCount(b) || nodeCount(a) - nodeCount(b) || free(b) - free(a) || a.gears - b.gears || a.name.localeCompare(b.name));
  const best = fitting[0];
  const zoned = (n: NodeCandidate) => (n.zone ? `zone ${n.zone}` : `${n.name} (no zone)`);
  const below = (n: NodeCandidate): string => {
    if (zoneCount(n) !== zoneCount(best)) return `${zoned(n)} holds ${zoneCount(n)} of the app's replicas, ${zoned(best)} ${zoneCount(best)}`;
    if (nodeCount(n) !== nodeCount(best)) return `${n.name} holds ${nodeCount(n)} of the app's replicas, ${best.name} ${nodeCount(best)}`;
    if (free(n) !== free(best)) return `${n.name} has ${free(n)} MB free, ${best.name} ${free(best)} MB`;
    if (n.gears !== best.gears) return `${n.name} runs ${n.gears} gears, ${best.name} ${best.gears}`;
    return `${n.name} ties with ${best.name}, which comes first by name`;
  };
  /** What `below` says, in the same words for every node it befalls. */
  const belowKind = (n: NodeCandidate): string => {
    if (zoneCount(n) !== zoneCount(best)) return "its zone holds more of the app's replicas";
    if (nodeCount(n) !== nodeCount(best)) return "holds more of the app's replicas";
    if (free(n) !== free(best)) return 'has less free memory';
    if (n.gears !== best.gears) return 'runs more gears';
    return 'ties, and comes later by name';
  };
  const spreadNote = req.spread ? `, ${zoneCount(best)} of the app's replicas in ${zoned(best)} and ${nodeCount(best)} on the node` : '';
  return {
    placement: { ok: true, nodeId: best.id },
    considered: [
      verdict(best, true, `${best.name} ranks first: ${free(best)} MB free${spreadNote}`),
      ...(named ? [...fitting.slice(1).map((n) => verdict(n, false, below(n))), ...refused] : []),
    ],
    passedOver: countBy([...fitting.slice(1).map(belowKind), ...refusedKinds]),
    summary: `${what} on ${best.name}${best.zone ? ` (zone ${best.zone})` : ''}: ${fitting.length} of ${plural(nodes.length, 'node')} could take them`,
  };
}

/** Picks the node for a group of gears (see explainPlacement). */
export function placeGears(nodes: NodeCandidate[], req: PlacementRequest): Placement {
  return explainPlacement(nodes, { ...req, named: false }).placement;
}

/** What a group of gears needs, and what the nodes can take of it (see roomFor). */
export interface RoomCheck {
  /** Gears asked for, and their memory in all. */
  gears: number;
  needMb: number;
  /** Of those, how many the nodes can take, placed as placement would. */
  fits: number;
  /** Free memory on the nodes that take gears (active, heard from, with the labels asked for), and how many they are. */
  freeMb: number;
  nodes: number;
}

export interface RoomRequest {
  gearsMb: number[];
  /**
   * All on one node (an app's services share its network there): that node's id, or `true` for whichever node would
   * be chosen (the one that can take the most of them).
   */
  together?: string | true;
  labels?: Record<string, string>;
  now: Date;
  heartbeatTimeoutMs: number;
}

/**
 * How many of a whole group of gears the nodes can take, checked before any of them is placed: a release or a scale
 * that cannot fit is refused at once with the whole need, rather than found out gear by gear. Each gear (largest
 * first) goes to the node with the most free memory that has room, as spread placement would; `together` puts them
 * all on one node. Only the nodes that take gears count: one that has not reported or is draining is left to place(),
 * which says why.
 */
export function roomFor(nodes: NodeCandidate[], req: RoomRequest): RoomCheck {
  const ready = nodes.filter((n) => {
    const refusal = whyNot({ ...n, allocatedMb: 0, gears: 0 }, 0, 0, { ...req, gearsMb: [] } as PlacementRequest);
    return !refusal && (typeof req.together !== 'string' || n.id === req.together);
  });
  const sizes = [...req.gearsMb].sort((a, b) => b - a);
  const fill = (onto: NodeCandidate[]): number => {
    const use = onto.map((n) => ({ free: free(n), room: n.maxGears - n.gears }));
    let placed = 0;
    for (const mb of sizes) {
      const best = use.filter((u) => u.free >= mb && u.room > 0).sort((a, b) => b.free - a.free)[0];
      if (!best) continue;
      best.free -= mb;
      best.room -= 1;
      placed++;
    }
    return placed;
  };
  const fits = req.together === true ? Math.max(0, ...ready.map((n) => fill([n]))) : fill(ready);
  return {
    gears: sizes.length,
    needMb: sizes.reduce((a, b) => a + b, 0),
    fits,
    freeMb: ready.reduce((a, n) => a + Math.max(0, free(n)), 0),
    nodes: ready.length,
  };
}

const gb = (mb: number) => (mb >= 1024 ? `${(mb / 1024).toFixed(1)} GB` : `${mb} MB`);

/**
 * Why a group of gears does not fit, in one sentence that gives the whole need and what the nodes have; null when it
 * fits, or when no node takes gears now (a passing state that place() names). `what` names the asker: "the release",
 * "service \"jobs\"".
 */
export function roomShortfall(what: string, gearsMb: number[], check: RoomCheck, more = false): string | null {
  if (check.fits >= check.gears || check.nodes === 0) return null;
  const sizes = [...new Set(gearsMb)];
  const each = sizes.length === 1 ? ` of ${sizes[0]} MB` : '';
  const on = check.nodes === 1 ? '1 node' : `${check.nodes} nodes`;
  const take = check.fits === 0 ? 'none of them' : `${check.fits} more`;
  return `${what} needs ${more ? `${check.gears} more gear${check.gears === 1 ? '' : 's'}` : plural(check.gears, 'gear')}${each} (${gb(check.needMb)}); the nodes can take ${take} (${gb(check.freeMb)} free on ${on})`;
}

/** Loopback addresses reach nothing outside their own host's network namespace. */
const isLoopback = (address: string): boolean => /^127\./.test(address) || address === '::1' || address === 'localhost';

/**
 * Whether web gears on other nodes can reach an app's services: the services' node publishes on an address that
 * containers elsewhere reach (not loopback), and every service gear has reported a published port per endpoint.
 */
export function servicesReachableElsewhere(homeAddress: string | undefined, services: { ports: Record<string, number>; endpoints: number }[]): boolean {
  if (!homeAddress || isLoopback(homeAddress) || services.length === 0) return false;
  return services.every((s) => Object.keys(s.ports).length >= s.endpoints);
}
