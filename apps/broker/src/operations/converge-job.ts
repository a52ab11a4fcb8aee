import type { GearSpec, NodeJobs } from '@gearshift/cartridges';

export type ConvergeJob = NodeJobs['app.converge'];

/** The epoch a fence gives a gear that is gone: higher than any assignment it had. */
export const GONE_EPOCH = 2 ** 31 - 1;

export interface ConvergeJobInput {
  appId: string;
  /** The node the job goes to: it gets the specs of the gears placed on it, and no others. */
  nodeId: string;
  /** Where each of the app's gears is placed, under which assignment (epoch; absent: no fencing). */
  gears: readonly { id: string; nodeId: string; epoch?: number }[];
  /** The app's gear specs (of every node, or of this node alone). */
  specs: readonly GearSpec[];
  /** The operation the job belongs to; a drift repair belongs to none, and the node reports nothing back. */
  operationId?: string;
  /** How long removed web gears drain; absent for a drift repair, which removes no gear that routers still know. */
  drainMs?: number;
  /** What a staged operation adds to this node's job: images to keep, a post-deploy hook, its own drain time. */
  extras?: Partial<Pick<ConvergeJob, 'keepImages' | 'drainMs' | 'after'>>;
}

/**
 * The one way the broker builds an `app.converge` job: the desired gears of one app on one node. Operations and
 * the heartbeat's drift repair both send it, so a node converges to the same specs whoever asked.
 */
export function convergeJob(input: ConvergeJobInput): ConvergeJob {
  const placed = new Map(input.gears.map((g) => [g.id, g.nodeId]));
  const gears = input.specs.filter((s) => placed.get(s.gearId) === input.nodeId);
  const epochs = Object.fromEntries(
    input.gears.filter((g) => g.nodeId === input.nodeId && g.epoch !== undefined && gears.some((s) => s.gearId === g.id)).map((g) => [g.id, g.epoch!]),
  );
  return {
    ...(Object.keys(epochs).length > 0 ? { epochs } : {}),
    ...(input.drainMs !== undefined ? { drainMs: input.drainMs } : {}),
    ...input.extras,
    ...(input.operationId !== undefined ? { operationId: input.operationId } : {}),
    appId: input.appId,
    gears,
  };
}
