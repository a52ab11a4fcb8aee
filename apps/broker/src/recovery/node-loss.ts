/**
 * What the leader decides when nodes fall silent. Pure: the caller reads nodes and gears, and writes the result.
 */
import { placeGears, servicesReachableElsewhere, type NodeCandidate } from '../nodes/placement';

export interface NodeSeen {
  id: string;
  name: string;
  lastHeartbeat: Date | null;
  lostAt: Date | null;
}

/**
 * The nodes to mark lost now: silent for longer than `timeoutMs`, not lost already. A node that never reported is
 * left alone (it has not joined yet). When no node at all has reported within the timeout, none is lost: it is the
 * broker that hears nothing (Redis away, the broker itself stalled), and moving every gear would make things worse.
 */
export function nodesToLose(nodes: readonly NodeSeen[], now: Date, timeoutMs: number): NodeSeen[] {
  const silent = (n: NodeSeen) => !n.lastHeartbeat || now.getTime() - n.lastHeartbeat.getTime() > timeoutMs;
  if (!nodes.some((n) => n.lastHeartbeat && !silent(n))) return [];
  return nodes.filter((n) => n.lastHeartbeat && !n.lostAt && silent(n));
}

export interface GearSeen {
  id: string;
  cartridge: string;
  nodeId: string;
  memoryMb: number;
  process: string | null;
  /** Published ports, by endpoint name. */
  ports: Record<string, number>;
}

export interface MovePlan {
  /** Gears that go to another node, and where. */
  moves: { gearId: string; cartridge: string; from: string; to: string }[];
  /** Gears that cannot move now, and why. */
  stuck: { gearId: string; cartridge: string; reason: string }[];
  /** Why the app is degraded (its data is on a lost node), or null. */
  degraded: string | null;
}

export interface MoveInput {
  gears: readonly GearSeen[];
  /** Ids of the lost nodes, with their names. */
  lost: ReadonlyMap<string, string>;
  /** Every node that is not lost, as placement reads them (with what the app's gears on them use). */
  candidates: readonly NodeCandidate[];
  /** Whether a cartridge's gears hold no data (app code: web gears and workers); others stay with their volumes. */
  stateless: (cartridge: string) => boolean;
  /** The number of endpoints of a cartridge (a service is reachable elsewhere once each has a published port). */
  endpoints: (cartridge: string) => number;
  /** Where each node's published ports are reached. */
  addresses: ReadonlyMap<string, string>;
  /** The command that restores the app's data elsewhere, for the reason an operator reads. */
  recoverHint: string;
  now: Date;
  heartbeatTimeoutMs: number;
}

/**
 * Where an app's gears on lost nodes go. Stateless gears move to healthy nodes with room, spread as placement
 * spreads an app's web gears (the fewest of the app's there first); while the app's services run on one node and
 * other nodes cannot reach them, they go to that node. Gears with data do not move: the app is degraded, and says
 * how to bring its data back.
 */
export function planMoves(input: MoveInput): MovePlan {
  const plan: MovePlan = { moves: [], stuck: [], degraded: null };
  const onLost = input.gears.filter((g) => input.lost.has(g.nodeId));
  if (onLost.length === 0) return plan;
  const services = input.gears.filter((g) => !input.stateless(g.cartridge) && !input.lost.has(g.nodeId));
  const home = services[0]?.nodeId;
  const reachable =
    !home ||
    servicesReachableElsewhere(
      input.addresses.get(home),
      services.map((s) => ({ ports: s.ports, endpoints: input.endpoints(s.cartridge) })),
    );
  const spread: Record<string, number> = {};
  for (const g of input.gears) {
    if (!input.lost.has(g.nodeId) && input.stateless(g.cartridge) && !g.process) spread[g.nodeId] = (spread[g.nodeId] ?? 0) + 1;
  }
  // Placement counts each move as it is made: the next gear sees the room and spread the last one took.
  const nodes = input.candidates.map((n) => ({ ...n }));
  const data: string[] = [];
  for (const g of onLost) {
    if (!input.stateless(g.cartridge)) {
      data.push(`${g.cartridge} (on ${input.lost.get(g.nodeId)})`);
      continue;
    }
    const eligible = reachable ? nodes : nodes.filter((n) => n.id === home);
    const placed = placeGears(eligible, {
      gearsMb: [g.memoryMb],
      now: input.now,
      heartbeatTimeoutMs: input.heartbeatTimeoutMs,
      ...(g.process ? {} : { spread }),
    });
    if (!placed.ok) {
      plan.stuck.push({ gearId: g.id, cartridge: g.cartridge, reason: placed.shortfall });
      continue;
    }
    plan.moves.push({ gearId: g.id, cartridge: g.cartridge, from: g.nodeId, to: placed.nodeId });
    const node = nodes.find((n) => n.id === placed.nodeId)!;
    node.allocatedMb += g.memoryMb;
    node.gears += 1;
    if (!g.process) spread[placed.nodeId] = (spread[placed.nodeId] ?? 0) + 1;
  }
  if (data.length > 0) {
    plan.degraded = `its data is on a lost node: ${data.join(', ')}; restore its latest snapshot onto another node with ${input.recoverHint}`;
  }
  return plan;
}

/**
 * Where an app's data gears on lost nodes go when an operator recovers the app: all to one healthy node (snapshots
 * and the app's services live together), the one with the most room.
 */
export function placeRecovery(
  gears: readonly GearSeen[],
  lost: ReadonlyMap<string, string>,
  candidates: readonly NodeCandidate[],
  stateless: (cartridge: string) => boolean,
  now: Date,
  heartbeatTimeoutMs: number,
): { ok: true; nodeId: string; gears: GearSeen[] } | { ok: false; reason: string } {
  const stranded = gears.filter((g) => lost.has(g.nodeId) && !stateless(g.cartridge));
  if (stranded.length === 0) return { ok: false, reason: 'none of its data gears is on a lost node' };
  const placed = placeGears([...candidates], { gearsMb: stranded.map((g) => g.memoryMb), now, heartbeatTimeoutMs });
  return placed.ok ? { ok: true, nodeId: placed.nodeId, gears: stranded } : { ok: false, reason: placed.shortfall };
}
