/** Where gears go. Pure: the caller reads node usage under the placement lock and writes the result. */

export interface NodeCandidate {
  id: string;
  name: string;
  state: 'active' | 'draining';
  lastHeartbeat: Date | null;
  memoryMb: number;
  maxGears: number;
  allocatedMb: number;
  gears: number;
}

export type Placement = { ok: true; nodeId: string } | { ok: false; shortfall: string };

export interface PlacementRequest {
  /** Memory of each gear to place. All of them go to one node, so that an app's gears share its network. */
  gearsMb: number[];
  /** The node that already runs the app's gears: used when it has room. */
  preferNode?: string;
  /** Gears the app already has per node: spread placement picks the node with the fewest (then the most room). */
  spread?: Record<string, number>;
  now: Date;
  heartbeatTimeoutMs: number;
}

function whyNot(n: NodeCandidate, needMb: number, count: number, now: Date, timeoutMs: number): string | null {
  if (n.state !== 'active') return `${n.name} is draining`;
  if (!n.lastHeartbeat) return `${n.name} has not reported yet`;
  const silentMs = now.getTime() - n.lastHeartbeat.getTime();
  if (silentMs > timeoutMs) return `${n.name} has not reported for ${Math.round(silentMs / 1000)} s`;
  const free = n.memoryMb - n.allocatedMb;
  if (free < needMb) return `${n.name} has ${free} MB free`;
  if (n.gears + count > n.maxGears) return `${n.name} runs ${n.gears} of at most ${n.maxGears} gears`;
  return null;
}

/** Picks the node for a group of gears: the preferred node when it fits, else the one with the most free memory. */
export function placeGears(nodes: NodeCandidate[], req: PlacementRequest): Placement {
  const needMb = req.gearsMb.reduce((a, b) => a + b, 0);
  const count = req.gearsMb.length;
  if (nodes.length === 0) return { ok: false, shortfall: 'no node has joined the platform yet' };
  const reasons: string[] = [];
  const fitting: NodeCandidate[] = [];
  for (const n of nodes) {
    const reason = whyNot(n, needMb, count, req.now, req.heartbeatTimeoutMs);
    if (reason) reasons.push(reason);
    else fitting.push(n);
  }
  if (fitting.length === 0) {
    return { ok: false, shortfall: `no node can take ${count} gear(s) needing ${needMb} MB: ${reasons.join('; ')}` };
  }
  const preferred = fitting.find((n) => n.id === req.preferNode);
  if (preferred && !req.spread) return { ok: true, nodeId: preferred.id };
  const spread = req.spread ?? {};
  fitting.sort(
    (a, b) =>
      (spread[a.id] ?? 0) - (spread[b.id] ?? 0) ||
      b.memoryMb - b.allocatedMb - (a.memoryMb - a.allocatedMb) ||
      a.gears - b.gears ||
      a.name.localeCompare(b.name),
  );
  return { ok: true, nodeId: fitting[0].id };
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
