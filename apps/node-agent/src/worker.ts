import { UnrecoverableError } from 'bullmq';
import type { HandlerMap, NodeJobs } from '@gearshift/cartridges';
import { PermanentError } from './images';

/** What the processor reads of a BullMQ job. */
export interface JobLike {
  name: string;
  id?: string;
  data: unknown;
  attemptsMade: number;
  opts: { attempts?: number };
}

export interface ProcessorDeps {
  handlers: HandlerMap<NodeJobs>;
  /** Tells the broker that the job's operation failed on this node, and why. */
  reportFailure(job: JobLike, err: Error): Promise<void>;
  log(message: string): void;
}

/**
 * The node agent's job processor. Whatever a handler throws ends as this job's failure, never the process's: a
 * transient one is thrown again so that BullMQ retries it with backoff, and the last attempt or a permanent one is
 * reported to the broker with its reason and marked unrecoverable, so that the same poison job is not handed out
 * again and the operation ends.
 */
export function jobProcessor(deps: ProcessorDeps): (job: JobLike) => Promise<unknown> {
  return async (job) => {
    const handler = deps.handlers[job.name as keyof NodeJobs] as ((data: unknown) => Promise<unknown>) | undefined;
    if (!handler) throw new UnrecoverableError(`no handler for job ${job.name}`);
    try {
      return await handler(job.data);
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      const last = e instanceof PermanentError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      deps.log(`job ${job.name} ${job.id} failed${last ? '' : ' (will retry)'}: ${e.message}`);
      if (!last) throw e;
      await deps.reportFailure(job, e);
      throw new UnrecoverableError(e.message);
    }
  };
}
