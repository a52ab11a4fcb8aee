import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Queue, UnrecoverableError, Worker, type ConnectionOptions } from 'bullmq';
import IORedis from 'ioredis';
import {
  BEATS_QUEUE,
  beatDeduplicationId,
  BROKER_JOB_NAMES,
  BROKER_QUEUE,
  JobContractError,
  assertHandlesAll,
  compileJobSchemas,
  jobRequestId,
  nodeQueue,
  readBrokerJob,
  sealNodeJob,
  stamp,
  withRequestId,
  type BrokerJobName,
  type BrokerJobs,
  type HandlerMap,
  type NodeJobName,
  type NodeJobs,
} from '@gearshift/cartridges';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { NodePublicKeys } from './node-public-keys';
import { nodeRedisRule, nodeRedisUser } from './node-redis-users';

/**
 * What the broker does with a job from its queue: reads it against the job contract, then hands its payload to the
 * job's handler. A job of another contract version, or whose payload breaks the contract, fails for good with the
 * field and the rule; retrying could not change it.
 */
export function brokerJobProcessor(
  handlers: HandlerMap<BrokerJobs>,
  only?: readonly BrokerJobName[],
): (job: { name: string; data: unknown }) => Promise<unknown> {
  return async (job) => {
    // A queue kept for some jobs (the heartbeats') takes no other: a job that is not its own fails for good.
    if (only && !only.includes(job.name as BrokerJobName))
      throw new UnrecoverableError(`job ${JSON.stringify(job.name.slice(0, 100))} does not belong on this queue (it takes ${only.join(', ')})`);
    let read;
    try {
      read = readBrokerJob(job.name, job.data);
    } catch (err) {
      if (err instanceof JobContractError) throw new UnrecoverableError(err.message);
      throw err;
    }
    const handler = handlers[read.name] as (data: unknown) => Promise<unknown>;
    // A node's report goes on with the request that started its operation: the broker's logs about it carry the id.
    const data = read.data;
    return withRequestId(jobRequestId(job.data), () => handler(data));
  };
}

/** How many heartbeats one broker takes at a time: a beat is a few short queries, and the API shares the pool. */
export const BEAT_CONCURRENCY = 4;

/**
 * BullMQ: one queue per node for the broker's jobs; one broker queue for what the nodes report, and one for their
 * heartbeats, each worked by its own worker.
 */
@Injectable()
export class QueueService implements OnApplicationShutdown {
  private readonly logger = new Logger('queue');
  private readonly connection: IORedis;
  private readonly queues = new Map<string, Queue>();
  private worker?: Worker;
  private beatsWorker?: Worker;
  /** The heartbeats' queue as the watchdog looks into it (see beatWaiting). */
  private beats?: Queue;

  constructor(
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    private readonly publicKeys: NodePublicKeys,
  ) {
    this.connection = new IORedis(config.redisUrl, { maxRetriesPerRequest: null, enableOfflineQueue: true });
    this.connection.on('error', (err) => this.logger.warn(`redis: ${err.message}`));
  }

  private queueFor(nodeId: string): Queue {
    let q = this.queues.get(nodeId);
    if (!q) {
      q = new Queue(nodeQueue(nodeId), { connection: this.connection as unknown as ConnectionOptions, prefix: this.config.instance });
      q.on('error', (err) => this.logger.warn(`queue of node ${nodeId}: ${err.message}`));
      this.queues.set(nodeId, q);
    }
    return q;
  }

  /**
   * Queues a job for a node. `jobId` makes sending twice harmless: BullMQ keeps one job per id while it exists.
   * Transient failures are retried with backoff by BullMQ on the agent's side. Every secret value of the payload is
   * sealed for the node first, so Redis never holds one in clear; a job done keeps its id but not its payload (the
   * agent empties it), and a failed one keeps only sealed values.
   */
  async send<N extends NodeJobName>(nodeId: string, name: N, data: NodeJobs[N], jobId?: string, attempts = 5): Promise<void> {
    await this.queueFor(nodeId).add(name, stamp(await this.seal(nodeId, name, data)), {
      jobId,
      attempts,
      backoff: { type: 'exponential', delay: 1000 },
      // Kept (emptied of its payload by the agent) so that sending the same job id again stays harmless.
      removeOnComplete: { count: 200 },
      removeOnFail: { count: 500 },
    });
  }

  private async seal<N extends NodeJobName>(nodeId: string, name: N, data: NodeJobs[N]): Promise<NodeJobs[N]> {
    return sealNodeJob(name, data, await this.publicKeys.publicKey(nodeId), `node ${nodeId}`);
  }

  /**
   * Makes (or makes again, after Redis lost it) the Redis user of a node, limited to its own queue and what it needs
   * of the broker's (see nodeRedisRule). The password is given as its hash: the broker never keeps the password.
   */
  async ensureNodeUser(nodeId: string, passwordHash: string): Promise<string> {
    const user = nodeRedisUser(this.config.instance, nodeId);
    await this.connection.call('ACL', 'SETUSER', user, ...nodeRedisRule(this.config.instance, nodeId, passwordHash));
    return user;
  }

  /**
   * Calls `restore` each time the broker's Redis connection becomes ready again after it was lost: a Redis that
   * restarted has forgotten the users made with ACL SETUSER, and every agent is refused until they are made again.
   */
  onReconnect(restore: () => Promise<void>): void {
    // Making a user again is harmless: a ready event that is not a reconnection costs a few ACL SETUSER calls.
    this.connection.on('ready', () => {
      restore().catch((err: Error) => this.logger.warn(`making the nodes' Redis users again: ${err.message}`));
    });
  }

  /** Removes a node's Redis user and ends its connections: a removed node reads and writes nothing more. */
  async removeNodeUser(nodeId: string): Promise<void> {
    await this.connection.call('ACL', 'DELUSER', nodeRedisUser(this.config.instance, nodeId));
  }

  /**
   * Takes back every job a lost node has not started: they were meant for gears that are moving elsewhere, and the
   * node must not act on them if it comes back. Returns how many there were.
   */
  async discardWaiting(nodeId: string): Promise<number> {
    const queue = this.queueFor(nodeId);
    const { waiting = 0, delayed = 0, prioritized = 0 } = await queue.getJobCounts('waiting', 'delayed', 'prioritized');
    await queue.drain(true);
    return waiting + delayed + prioritized;
  }

  /**
   * Takes back a job a node has not started (an operation was cancelled or timed out). A job already being worked on
   * is locked by its node and stays; its outcome is ignored by then.
   */
  async withdraw(nodeId: string, jobId: string): Promise<boolean> {
    const job = await this.queueFor(nodeId).getJob(jobId);
    if (!job) return false;
    const state = await job.getState();
    if (state !== 'waiting' && state !== 'delayed' && state !== 'prioritized') return false;
    await job.remove();
    return true;
  }

  /**
   * Starts consuming the broker queue; refuses to start unless every job name has a handler. A job of another
   * contract version, or whose payload breaks the contract, fails at once and for good, with the field and the rule.
   */
  consume(handlers: HandlerMap<BrokerJobs>): void {
    assertHandlesAll(handlers, BROKER_JOB_NAMES, 'the broker');
    compileJobSchemas('broker');
    this.worker = new Worker(BROKER_QUEUE, brokerJobProcessor(handlers), {
      connection: this.connection.duplicate() as unknown as ConnectionOptions,
      prefix: this.config.instance,
      concurrency: 8,
      removeOnComplete: { count: 0 },
      removeOnFail: { count: 1000 },
    });
    this.worker.on('failed', (job, err) => this.logger.warn(`job ${job?.name} ${job?.id} failed: ${err.message}`));
    this.worker.on('error', (err) => this.logger.warn(`worker: ${err.message}`));
    // Heartbeats on their own queue and worker: no number of reports waiting delays one, so no node looks silent
    // because the broker is busy placing gears. An agent older than this queue still beats on the broker queue above.
    const beat = brokerJobProcessor(handlers, ['node.heartbeat']);
    this.beatsWorker = new Worker(
      BEATS_QUEUE,
      async (job) => {
        // Taken: the node's next beat queues again (it was held while this one waited, see beatDeduplicationId).
        await job.removeDeduplicationKey();
        return beat(job);
      },
      {
        connection: this.connection.duplicate() as unknown as ConnectionOptions,
        prefix: this.config.instance,
        concurrency: BEAT_CONCURRENCY,
        removeOnComplete: { count: 0 },
        removeOnFail: { count: 100 },
      },
    );
    this.beatsWorker.on('failed', (job, err) => this.logger.warn(`heartbeat ${job?.id} failed: ${err.message}`));
    this.beatsWorker.on('error', (err) => this.logger.warn(`heartbeat worker: ${err.message}`));
  }

  /**
   * Whether a beat of the node waits in the heartbeats' queue (or is being taken): the node was alive when it sent it,
   * however far the broker has fallen behind. A deduplication id left by a job that is gone or finished says nothing.
   */
  async beatWaiting(nodeId: string): Promise<boolean> {
    this.beats ??= this.watchBeats();
    const jobId = await this.beats.getDeduplicationJobId(beatDeduplicationId(nodeId));
    if (!jobId) return false;
    return ['waiting', 'prioritized', 'active'].includes(await this.beats.getJobState(jobId));
  }

  private watchBeats(): Queue {
    const q = new Queue(BEATS_QUEUE, { connection: this.connection as unknown as ConnectionOptions, prefix: this.config.instance });
    q.on('error', (err) => this.logger.warn(`heartbeats queue: ${err.message}`));
    return q;
  }

  /**
   * What a node's job answered, once it has finished: polled, since a node's job has no other way back than its
   * return value. Throws when it failed, or is not done within `timeoutMs`.
   */
  async result(nodeId: string, jobId: string, timeoutMs: number): Promise<unknown> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const job = await this.queueFor(nodeId).getJob(jobId);
      if (job?.finishedOn) {
        if (job.failedReason) throw new Error(job.failedReason);
        return job.returnvalue;
      }
      if (Date.now() > until) throw new Error(`node ${nodeId} did not finish job ${jobId} within ${Math.round(timeoutMs / 1000)} s`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** The jobs in a node's queue by state: waiting (with delayed and prioritized ones) and active. */
  async depth(nodeId: string): Promise<{ waiting: number; active: number }> {
    if (this.connection.status !== 'ready') throw new Error('Redis is not connected');
    const c = await this.queueFor(nodeId).getJobCounts('waiting', 'delayed', 'prioritized', 'active');
    return { waiting: (c.waiting ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0), active: c.active ?? 0 };
  }

  /**
   * Whether Redis answers now. Not while the connection is down (a command would wait in the offline queue until it
   * is back), and within `timeoutMs`, so that a health check answers while Redis does not.
   */
  async ping(timeoutMs = 2000): Promise<boolean> {
    if (this.connection.status !== 'ready') return false;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    try {
      return await Promise.race([this.connection.ping().then((answer) => answer === 'PONG'), late]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.worker?.close(), this.beatsWorker?.close()]);
    await Promise.all([...this.queues.values(), ...(this.beats ? [this.beats] : [])].map((q) => q.close()));
    this.connection.disconnect();
  }
}
