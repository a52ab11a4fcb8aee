import { LABELS } from '@gearshift/cartridges';

/**
 * The gear assignments this node holds: for each gear, the highest epoch (fencing token) it has seen, from its
 * containers' labels, from the jobs it worked on and from the broker's fence. A gear that moved to another node
 * while this one was lost has a higher epoch there; a job for it that waited in this node's queue names the old one.
 */
export class HeldEpochs {
  private readonly held = new Map<string, number>();

  /** What is held for a gear (0: nothing yet). */
  of(gearId: string): number {
    return this.held.get(gearId) ?? 0;
  }

  raise(gearId: string, epoch: number): void {
    if (epoch > this.of(gearId)) this.held.set(gearId, epoch);
  }

  /** Learns the epochs written on containers (labels), so that a restarted agent holds what it held before. */
  learn(containers: readonly { labels: Record<string, string> }[]): void {
    for (const c of containers) {
      const epoch = epochOf(c.labels);
      if (epoch) this.raise(c.labels[LABELS.gear], epoch);
    }
  }
}

/** The epoch on a container's labels; 0 for a container made before assignments had epochs. */
export function epochOf(labels: Record<string, string>): number {
  const n = Number(labels[LABELS.epoch]);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

/**
 * The gears of a converge job whose assignment is older than the one this node holds (the job is stale: the broker
 * moved them, and their newer assignment is elsewhere). A job without epochs (from an older broker) is never stale.
 */
export function staleGears(epochs: Record<string, number> | undefined, held: Pick<HeldEpochs, 'of'>): string[] {
  return Object.entries(epochs ?? {})
    .filter(([gearId, epoch]) => epoch < held.of(gearId))
    .map(([gearId]) => gearId);
}

/**
 * Of this node's containers, the ones a fence takes away: the container of a fenced gear made for an assignment
 * older than the fence's. (A container of a newer one was made after the gear came back here, and stays.)
 */
export function fencedContainers<C extends { id: string; labels: Record<string, string> }>(
  containers: readonly C[],
  fence: readonly { gearId: string; epoch: number }[],
): C[] {
  const epochs = new Map(fence.map((f) => [f.gearId, f.epoch]));
  return containers.filter((c) => {
    const epoch = epochs.get(c.labels[LABELS.gear]);
    return epoch !== undefined && epochOf(c.labels) < epoch;
  });
}
