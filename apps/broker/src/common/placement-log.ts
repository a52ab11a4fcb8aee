import { AsyncLocalStorage } from 'node:async_hooks';

/** A placement as an operation's step records it: a line, and every node considered with why it was (not) chosen. */
export interface PlacementStep {
  at: string;
  text: string;
  considered: { node: string; zone: string | null; chosen: boolean; reason: string }[];
}

/**
 * The placements a transaction makes, kept until the operation it records takes them as steps (see
 * OperationsService.create). Placement happens deep in a change (an app's first gears, more replicas, a release's
 * gears, a drain's new gears); the log follows the transaction's own async context instead of every call.
 */
const log = new AsyncLocalStorage<PlacementStep[]>();

/** Runs `work` with a placement log of its own (UnitOfWork.run gives every transaction one). */
export function withPlacementLog<T>(work: () => Promise<T>): Promise<T> {
  return log.run([], work);
}

/** Records a placement of the transaction running now (outside one, nothing is kept). */
export function recordPlacement(step: Omit<PlacementStep, 'at'>): void {
  log.getStore()?.push({ at: new Date().toISOString(), ...step });
}

/** The placements recorded so far in this transaction, which leave the log. */
export function takePlacements(): PlacementStep[] {
  return log.getStore()?.splice(0) ?? [];
}
