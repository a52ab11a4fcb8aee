import { collectDisk } from './disk-gc';
import { createPrivateKey } from 'node:crypto';
import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import IORedis from 'ioredis';
import {
  BEATS_QUEUE,
  beatDeduplicationId,
  BROKER_QUEUE,
  LABELS,
  NODE_JOB_NAMES,
  assertHandlesAll,
  compileJobSchemas,
  nodeQueue,
  openNodeJob,
  platformLogger,
  reportReady,
  stamp,
  surviveUnexpectedErrors,
  type BrokerJobName,
  type BrokerJobs,
  type GearUsage,
  type HandlerMap,
  type NodeJobs,
} from '@gearshift/cartridges';
import { ConfigError, loadConfig, type AgentConfig } from './config';
import { register, redisUrlAs } from './registration';
import { DockerAdapter } from './docker.adapter';
import { GearOperator, type StepReporter } from './gear-operator';
import { jobProcessor, withDeadline, type JobLike } from './worker';
import { ReleaseBuilder } from './builder';
import { streamAppLogs } from './logs';
import { execAppCommand, runAppCommand } from './run';
import { Snapshots } from './snapshots';
import { CpuRatios, JobTimings, mapBounded, USAGE_CONCURRENCY } from './usage';
import { StepBatcher } from './reports';
import { GearDiskGuard } from './gear-disk';

// JSON lines (pino), each with the request id of the operation being worked on (see @gearshift/cartridges logging).
export const agentLog = platformLogger('agent');
const log = (msg: string) => agentLog.info(msg);

/** A running agent: its node, how to stop it, and the broker's refusal of it if one comes after the start. */
export interface RunningAgent {
  nodeId: string;
  /** Finishes the jobs at hand and closes its connections. */
  stop(): Promise<void>;
  /** Settles with the refusal (the node was removed, its key does not match), or null once the broker confirmed it. */
  refusal: Promise<Error | null>;
}

/**
 * Runs a node agent on `docker`: joins (or authenticates), works its queue, sends heartbeats. A host runs one (see
 * main below); the scale simulation (bench/scale.ts) runs many in one process, each on an in-memory Docker.
 */
export async function startAgent(config: AgentConfig, docker: DockerAdapter): Promise<RunningAgent> {
  const { nodeId, confirmed, privateKey, redis, registry } = await register(config, log);
  const sealKey = createPrivateKey(privateKey);
  // This host's own setting first; else what the broker handed the node (never logged: it is a password).
  if (config.registry && config.registryAuth) docker.useRegistry(config.registry, config.registryAuth);
  else if (registry) docker.useRegistry(registry.server, registry);
  // Settled at once, to be acted on once the agent can stop cleanly (below).
  const refusal = confirmed.then(
    () => null,
    (err: Error) => err,
  );
  const operator = new GearOperator(config, docker, nodeId);
  // The node's own Redis user reaches its queue and the broker's, and nothing else of the platform's.
  const connection = new IORedis(redis ? redisUrlAs(config.redisUrl, redis) : config.redisUrl, { maxRetriesPerRequest: null });
  connection.on('error', (err) => log(`redis: ${err.message}`));
  const broker = new Queue(BROKER_QUEUE, { connection: connection as unknown as ConnectionOptions, prefix: config.instance });
  broker.on('error', (err) => log(`broker queue: ${err.message}`));

  // Heartbeats go on a queue of their own, which the broker works apart from the reports.
  const beats = new Queue(BEATS_QUEUE, { connection: connection as unknown as ConnectionOptions, prefix: config.instance });
  beats.on('error', (err) => log(`heartbeat queue: ${err.message}`));

  const tell = <N extends BrokerJobName>(name: N, data: BrokerJobs[N]) =>
    (name === 'node.heartbeat' ? beats : broker).add(name, stamp(data), {
      removeOnComplete: true,
      removeOnFail: { count: 100 },
      attempts: 10,
      backoff: { type: 'exponential', delay: 500 },
      // At most one beat of this node waits for a broker that fell behind: the ones sent meanwhile are dropped, not
      // queued behind it by the thousand (which the broker then worked through while every node looked silent). The
      // broker releases the id as it takes the beat; one whose job is gone is taken over by the next beat (BullMQ).
      ...(name === 'node.heartbeat' ? { deduplication: { id: beatDeduplicationId(nodeId) } } : {}),
    });
  // An operation's progress steps are batched; its other reports carry the steps still waiting.
  const reports = new StepBatcher(
    nodeId,
    (r) => tell('operation.report', r),
    (err) => log(`progress report lost: ${err.message}`),
  );
  const report = (r: BrokerJobs['operation.report']) => reports.report(r);

  // Jobs of one app run one at a time on this node; different apps run in parallel.
  const appLocks = new Map<string, Promise<unknown>>();
  const serial = <T>(appId: string, work: () => Promise<T>): Promise<T> => {
    // A job that hangs holds its app's turn only until its deadline.
    const prev = withDeadline(appLocks.get(appId) ?? Promise.resolve(), config.jobTimeoutMs, 'the previous job of this app');
    const next = prev.catch(() => undefined).then(work);
    appLocks.set(appId, next);
    // The job's own failure reaches its caller through `next`; this branch only tidies the map, so it drops it.
    next.finally(() => appLocks.get(appId) === next && appLocks.delete(appId)).catch(() => undefined);
    return next;
  };

  // Progress is sent without waiting for Redis, batched for a moment: commands on one connection keep their order,
  // and the outcome report that follows (awaited) carries the steps not sent yet.
  const stepper =
    (operationId: string | undefined, appId: string): StepReporter =>
    async (text) => {
      log(`${appId.slice(0, 8)}: ${text}`);
      if (operationId) reports.step(operationId, appId, text);
    };

  // Build and hook output goes to the broker in batches, in order, a few times a second.
  const logger = (operationId: string, appId: string) => {
    let lines: string[] = [];
    let timer: NodeJS.Timeout | undefined;
    const flush = async () => {
      clearTimeout(timer);
      timer = undefined;
      if (lines.length === 0) return;
      const batch = lines;
      lines = [];
      await report({ operationId, nodeId, appId, phase: 'step', at: Date.now(), log: batch, gears: [] }).catch((err: Error) =>
        log(`build output lost: ${err.message}`),
      );
    };
    return {
      line: (l: string) => {
        lines.push(l);
        timer ??= setTimeout(() => {
          flush().catch((err: Error) => log(`build output lost: ${err.message}`));
        }, 250);
      },
      flush,
    };
  };
  const builder = new ReleaseBuilder(config, docker, operator.images);
  const leftovers = builder.removeLeftovers();
  if (leftovers > 0) log(`removed ${leftovers} scratch folder(s) of builds cut short when this agent last stopped`);
  const snapshots = new Snapshots(config, docker);
  const once = (name: 'snapshot' | 'restore' | 'writes', work: (step: StepReporter) => Promise<void>) => async (d: { operationId: string; appId: string }) =>
    serial(d.appId, async () => {
      await work(stepper(d.operationId, d.appId));
      await report({ operationId: d.operationId, nodeId, appId: d.appId, phase: 'succeeded', at: Date.now(), gears: [] });
      return { [name]: true };
    });

  const handlers: HandlerMap<NodeJobs> = {
    'app.converge': (d) =>
      serial(d.appId, async () => {
        const out = d.operationId ? logger(d.operationId, d.appId) : undefined;
        const gears = await operator.converge(d.appId, d.gears, stepper(d.operationId, d.appId), {
          keepImages: d.keepImages,
          after: d.after,
          drainMs: d.drainMs,
          log: out?.line,
          epochs: d.epochs,
        });
        await out?.flush();
        if (d.operationId) await report({ operationId: d.operationId, nodeId, appId: d.appId, phase: 'succeeded', at: Date.now(), gears });
        return { gears: gears.length };
      }),
    'app.build': (d) =>
      serial(d.appId, async () => {
        const out = logger(d.operationId, d.appId);
        const step = stepper(d.operationId, d.appId);
        try {
          // Output comes before the step that follows it.
          const result = await builder.build(d, async (text) => (await out.flush(), step(text)), out.line);
          await out.flush();
          await report({ operationId: d.operationId, nodeId, appId: d.appId, phase: 'succeeded', at: Date.now(), result, gears: [] });
          return result;
        } finally {
          await out.flush();
        }
      }),
    'app.remove': (d) =>
      serial(d.appId, async () => {
        await operator.removeApp(d.appId, stepper(d.operationId, d.appId));
        if (d.operationId) await report({ operationId: d.operationId, nodeId, appId: d.appId, phase: 'succeeded', at: Date.now(), gears: [] });
        return { removed: true };
      }),
    'app.snapshot': (d) => once('snapshot', (step) => snapshots.take(d, step))(d),
    'app.restore': (d) => once('restore', (step) => snapshots.restore(d, step))(d),
    'app.writes': (d) => once('writes', (step) => snapshots.writes(d, step))(d),
    'app.logs': (d) =>
      streamAppLogs(
        docker,
        connection,
        { [LABELS.managedBy]: 'gearshift', [LABELS.instance]: config.instance, [LABELS.node]: nodeId },
        nodeId,
        d,
        operator.failedGears.read(d.appId),
      ),
    // Answered at once: the command runs beside the queue, as long as it takes, and reports on its channel.
    'app.run': async (d) => {
      void runAppCommand(docker, connection, config.instance, d).catch((err: Error) => log(`one-off command of ${d.appId.slice(0, 8)}: ${err.message}`));
      return { started: true };
    },
    'app.exec': async (d) => {
      void execAppCommand(docker, connection, { [LABELS.managedBy]: 'gearshift', [LABELS.instance]: config.instance, [LABELS.node]: nodeId }, d).catch(
        (err: Error) => log(`command in gear ${d.gearId.slice(0, 8)}: ${err.message}`),
      );
      return { started: true };
    },
    'node.ping': async (d) => ({ sentAt: d.sentAt, nodeId }),
    // One app's turn at a time, like its other jobs: a fence never races a converge of the same app.
    'node.fence': async (d) => {
      // Heard at once, not in the app's turn: a converge of the app at work starts none of these gears from now on.
      for (const g of d.gears) operator.held.raise(g.gearId, g.epoch);
      let removed = 0;
      for (const appId of new Set(d.gears.map((g) => g.appId))) {
        removed += await serial(appId, () =>
          operator.fence(
            d.gears.filter((g) => g.appId === appId),
            stepper(undefined, appId),
          ),
        );
      }
      return { removed };
    },
    'node.gc': async (d) => {
      const facts = {
        instance: config.instance,
        apps: new Set(d.apps),
        keepImages: new Set(d.keepImages),
        buildCacheBytes: d.buildCacheMb * 1024 * 1024,
        before: d.at,
        graceMs: (d.graceMinutes ?? 60) * 60_000,
      };
      const items = await collectDisk(docker, facts, d.dryRun ?? false);
      const freed = items.reduce((n, i) => n + i.bytes, 0);
      log(`disk hygiene${d.dryRun ? ' (dry run)' : ''}: ${items.length} item(s), ${freed} bytes`);
      return { nodeId, dryRun: d.dryRun ?? false, items };
    },
  };
  assertHandlesAll(handlers, NODE_JOB_NAMES, 'the node agent');
  compileJobSchemas('node');

  const reportFailure = async (job: JobLike, err: Error) => {
    // The payload may be one that broke the contract: only strings are taken from it.
    const d = (job.data ?? {}) as { operationId?: unknown; appId?: unknown };
    if (typeof d.operationId !== 'string' || typeof d.appId !== 'string' || !d.operationId || !d.appId) return;
    await report({
      operationId: d.operationId,
      nodeId,
      appId: d.appId,
      phase: 'failed',
      at: Date.now(),
      error: err.message,
      gears: await operator
        .observe()
        .then((g) => g.filter((x) => x.appId === d.appId))
        .catch(() => []),
    });
  };

  // The worker blocks on its own connection; BullMQ leaves a connection it was given open, so stop() closes it.
  const workerConnection = connection.duplicate();
  const worker = new Worker(
    nodeQueue(nodeId),
    jobProcessor({
      handlers,
      reportFailure,
      log,
      started: (job, read) => {
        const operationId = (read.data as { operationId?: string }).operationId;
        if (operationId) log(`job ${job.name} ${job.id} of operation ${operationId} started`);
      },
      deadlineMs: config.jobTimeoutMs,
      open: (job) => ({ name: job.name, data: openNodeJob(job.name, job.data as never, sealKey) }) as typeof job,
    }),
    {
      connection: workerConnection as unknown as ConnectionOptions,
      prefix: config.instance,
      concurrency: config.concurrency,
      lockDuration: config.jobLockMs,
      stalledInterval: Math.max(1000, Math.floor(config.jobLockMs / 2)),
      maxStalledCount: 2,
    },
  );
  // How long each job took from the broker queueing it to its end here (done, or failed for the last time), for the
  // broker's job latency histogram; sent with the heartbeats.
  const timings = new JobTimings();
  // A job that stalled too often (its agent died each time) fails here; tell the broker why.
  worker.on('failed', (job, err) => {
    if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) timings.add(job.name, job.timestamp, job.finishedOn ?? Date.now());
    if (job && /stalled/i.test(err.message)) {
      reportFailure(job, new Error(`the node agent stopped while working on it (${err.message})`)).catch((e: Error) =>
        log(`failure report for job ${job.id} lost: ${e.message}`),
      );
    }
  });
  worker.on('error', (err) => log(`worker: ${err.message}`));
  // A job done keeps its id, so that the broker sending it again (after a restart) is still a duplicate and cannot
  // run an old stage over a newer one, but not its payload: nothing reads it again.
  worker.on('completed', (job) => {
    timings.add(job.name, job.timestamp, job.finishedOn ?? Date.now());
    job.updateData({}).catch((err: Error) => log(`job ${job.id}: its payload was not cleared: ${err.message}`));
  });

  // Running gears' CPU and memory, for the broker's metrics: sampled apart from the heartbeat (Docker's stats take a
  // moment per container), a few containers at a time, and sent with the heartbeats that follow.
  let usage: GearUsage[] | undefined;
  let sampling = false;
  const ratios = new CpuRatios();
  const sampleUsage = async () => {
    if (sampling) return;
    sampling = true;
    try {
      const running = (await operator.observe()).filter((x) => x.state === 'running' && x.containerId);
      const at = Date.now();
      const read = await mapBounded(running, USAGE_CONCURRENCY, async (g) => {
        const u = await docker.containerUsage(g.containerId!);
        return u ? [{ gearId: g.gearId, appId: g.appId, ...u }] : [];
      });
      usage = ratios.apply(read.flat(), at);
    } finally {
      sampling = false;
    }
  };
  const usageTimer = setInterval(() => {
    sampleUsage().catch((err: Error) => log(`gear usage sample failed: ${err.message}`));
  }, config.usageSampleMs);

  let beating = false;
  // The job of the last beat queued: a beat dropped while it waits is answered with its id, and the job timings it
  // carried are kept for the next beat that queues.
  let lastBeatJob: string | undefined;
  const heartbeat = async () => {
    if (beating) return;
    beating = true;
    try {
      const gears = await operator.observe();
      const finished = timings.take();
      const job = await tell('node.heartbeat', {
        nodeId,
        at: Date.now(),
        capacity: { memoryMb: config.memoryMb, maxGears: config.maxGears, address: config.address },
        gears,
        memoryRssMb: Math.round(process.memoryUsage().rss / 1024 / 1024),
        ...(usage ? { usage } : {}),
        ...(finished.jobs.length ? { jobs: finished.jobs } : {}),
      });
      if (job.id !== lastBeatJob) finished.sent();
      lastBeatJob = job.id;
    } catch (err) {
      log(`heartbeat failed: ${(err as Error).message}`);
    } finally {
      beating = false;
    }
  };
  // What each gear writes to its own filesystem, which Docker bounds on no ext4 host, is measured; a gear past its
  // bound is replaced, and the beat that follows at once has the broker start it again.
  const diskGuard = new GearDiskGuard({
    docker,
    labels: { [LABELS.managedBy]: 'gearshift', [LABELS.instance]: config.instance, [LABELS.node]: nodeId },
    limitMb: config.gearDiskMb,
    failedGears: operator.failedGears,
    serial,
    log,
    replaced: () => {
      heartbeat().catch((err: Error) => log(`heartbeat failed: ${err.message}`));
    },
  });
  const diskTimer = setInterval(() => {
    diskGuard.check().catch((err: Error) => log(`measuring what the gears wrote failed: ${err.message}`));
  }, config.gearDiskCheckMs);
  await heartbeat();
  const timer = setInterval(() => {
    heartbeat().catch((err: Error) => log(`heartbeat failed: ${err.message}`));
  }, config.heartbeatMs);
  log(`node ${config.nodeName} (${nodeId}) ready: ${config.memoryMb} MB for up to ${config.maxGears} gears, queue ${nodeQueue(nodeId)}`);
  const stop = async () => {
    clearInterval(timer);
    clearInterval(usageTimer);
    clearInterval(diskTimer);
    await worker.close();
    await reports.flush();
    await broker.close();
    await beats.close();
    workerConnection.disconnect();
    connection.disconnect();
  };
  return { nodeId, stop, refusal };
}

async function main(): Promise<void> {
  const config = loadConfig();
  surviveUnexpectedErrors(log);
  const docker = new DockerAdapter(undefined, { maxSize: config.gearLogMaxSize });
  await docker.ping();
  const agent = await startAgent(config, docker);
  reportReady({ serving: true });
  const stop = async (signal: string) => {
    log(`${signal}: finishing current jobs`);
    await agent.stop();
    process.exit();
  };
  // An agent that cannot close cleanly still exits when told to, so that its supervisor is not left waiting.
  const exitOnFailure = (err: Error) => {
    log(`stopping failed: ${err.message}`);
    process.exit(1);
  };
  process.on('SIGTERM', () => {
    stop('SIGTERM').catch(exitOnFailure);
  });
  process.on('SIGINT', () => {
    stop('SIGINT').catch(exitOnFailure);
  });
  // Started while the broker was away: a refusal once it answers (the node was removed, its key does not match)
  // stops this agent, as it would have at start-up.
  agent.refusal
    .then(async (err) => {
      if (!err) return;
      log(err.message);
      process.exitCode = 2;
      await stop('refused');
    })
    .catch(exitOnFailure);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    if (err instanceof ConfigError) {
      console.error(`gearshift node agent: ${err.message}`);
      process.exit(2);
    }
    console.error('gearshift node agent failed:', err);
    process.exit(1);
  });
}
