import { UnrecoverableError } from 'bullmq';
import { JobContractError, SealError, jobRequestId, readNodeJob, withRequestId, type HandlerMap, type NodeJob, type NodeJobs } from '@gearshift/cartridges';
import { PermanentError } from './errors';

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
  /** Called as the handler starts, within the job's request (its logs carry the request id). */
  started?(job: JobLike, read: NodeJob): void;
  /** A job still running after this long fails (its work may go on; its outcome no longer counts). */
  deadlineMs?: number;
  /** Opens the secret values sealed for this node (see openNodeJob); throws a SealError for one that is clear or does not open. */
  open?(job: NodeJob): NodeJob;
}

/**
 * `work`, or a PermanentError once `ms` have passed. Nothing can stop a Docker call that hangs, but the job, its
 * operation and the app's turn on this node must not wait for it forever.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PermanentError(`${what} did not finish within ${Math.round(ms / 1000)} s and was given up on`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/**
 * The node agent's job processor. A job of another contract version, whose payload breaks the contract, or whose
 * secret values are not sealed for this node, is refused before any work: reported to the broker with the field and the rule, and marked unrecoverable. Whatever a
 * handler throws ends as this job's failure, never the process's: a transient one is thrown again so that BullMQ
 * retries it with backoff, and the last attempt or a permanent one is reported to the broker with its reason and
 * marked unrecoverable, so that the same poison job is not handed out again and the operation ends.
 */
export function jobProcessor(deps: ProcessorDeps): (job: JobLike) => Promise<unknown> {
  // The job is worked on as part of the API request that caused it: its logs and reports carry that request's id.
  return (job) => withRequestId(jobRequestId(job.data), () => processJob(deps, job));
}

async function processJob(deps: ProcessorDeps, job: JobLike): Promise<unknown> {
  let read: NodeJob;
  try {
    read = readNodeJob(job.name, job.data);
    if (deps.open) read = deps.open(read);
  } catch (err) {
    if (!(err instanceof JobContractError) && !(err instanceof SealError)) throw err;
    deps.log(`job ${job.name} ${job.id} refused: ${err.message}`);
    await deps.reportFailure(job, err);
    throw new UnrecoverableError(err.message);
  }
  const handler = deps.handlers[read.name] as ((data: unknown) => Promise<unknown>) | undefined;
  if (!handler) throw new UnrecoverableError(`no handler for job ${job.name}`);
  deps.started?.(job, read);
  try {
    const work = handler(read.data);
    return await (deps.deadlineMs ? withDeadline(work, deps.deadlineMs, `job ${job.name}`) : work);
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    const last = e instanceof PermanentError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    deps.log(`job ${job.name} ${job.id} failed${last ? '' : ' (will retry)'}: ${e.message}`);
    if (!last) throw e;
    await deps.reportFailure(job, e);
    throw new UnrecoverableError(e.message);
  }
}
