import { AsyncLocalStorage } from 'node:async_hooks';

/** One node a placement looked at, and why it was or was not chosen. */
export interface PlacementVerdict {
  node: string;
  zone: string | null;
  chosen: boolean;
  reason: string;
}

/**
 * A placement as an operation's step records it: a line, and the nodes considered with why they were (not) chosen.
 * The first few placements of a change name every node; later ones name the chosen node and count the others by why
 * they were passed over (`passedOver`), so that an app of many replicas on many nodes keeps a short record.
 */
export interface PlacementStep {
  at: string;
  text: string;
  considered: PlacementVerdict[];
  passedOver?: Record<string, number>;
}

/** Placements of one change whose every node's verdict is kept; later ones are counted (see PlacementStep). */
export const FULL_PLACEMENTS = 3;

interface Log {
  steps: PlacementStep[];
  /** Placements recorded in this transaction so far, including those already taken. */
  count: number;
}

/**
 * The placements a transaction makes, kept until the operation it records takes them as steps (see
 * OperationsService.create). Placement happens deep in a change (an app's first gears, more replicas, a release's
 * gears, a drain's new gears); the log follows the transaction's own async context instead of every call.
 */
const log = new AsyncLocalStorage<Log>();

/** Runs `work` with a placement log of its own (UnitOfWork.run gives every transaction one). */
export function withPlacementLog<T>(work: () => Promise<T>): Promise<T> {
  return log.run({ steps: [], count: 0 }, work);
}

/** Records a placement of the transaction running now (outside one, nothing is kept). */
export function recordPlacement(step: { text: string; considered: PlacementVerdict[]; passedOver: Record<string, number> }): void {
  const store = log.getStore();
  if (!store) return;
  const at = new Date().toISOString();
  store.count += 1;
  if (store.count <= FULL_PLACEMENTS) store.steps.push({ at, text: step.text, considered: step.considered });
  else store.steps.push({ at, text: step.text, considered: step.considered.filter((v) => v.chosen), passedOver: step.passedOver });
}

/** Whether the next placement of the transaction running now names every node (see FULL_PLACEMENTS). */
export function nextPlacementNamed(): boolean {
  const store = log.getStore();
  return !store || store.count < FULL_PLACEMENTS;
}

/** The placements recorded so far in this transaction, which leave the log. */
export function takePlacements(): PlacementStep[] {
  return log.getStore()?.steps.splice(0) ?? [];
}
