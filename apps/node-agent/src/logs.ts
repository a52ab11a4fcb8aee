import type IORedis from 'ioredis';
import { LABELS, type LogMessage, type NodeJobs } from '@gearshift/cartridges';
import type { DockerAdapter } from './docker.adapter';
import type { FailedGearOutput } from './failed-gears';

/** A follower whose broker stopped refreshing its key is dropped; nobody follows for longer than this. */
const CHECK_MS = 1000;
const MAX_FOLLOW_MS = 6 * 3600 * 1000;
/**
 * Bytes of log lines published and not yet taken by Redis: past them, the gears' log streams are read no further
 * until half of it has gone (Docker keeps the rest in the gears' log files).
 */
const MAX_UNPUBLISHED = 4 * 1024 * 1024;

/**
 * Sends the output of an app's gears on this node to a Redis channel, each line tagged with its gear. Answers at
 * once and streams beside the job queue: Docker answers a follow request only once there is output, so nothing here
 * waits for it. Following goes on while the broker keeps the request's key alive, and takes in the gears that start
 * meanwhile (a scale-up, a rollout's new release) from their first line.
 */
export async function streamAppLogs(
  docker: DockerAdapter,
  redis: IORedis,
  labels: Record<string, string>,
  nodeId: string,
  job: NodeJobs['app.logs'],
  failed: FailedGearOutput[] = [],
): Promise<{ gears: number }> {
  const gearsNow = async () => (await docker.listContainers({ ...labels, [LABELS.app]: job.appId })).filter((c) => c.labels[LABELS.gear]);
  const containers = await gearsNow();
  // A gear that prints faster than Redis takes it would otherwise queue its lines in this process's heap.
  const outputs = new Set<{ pause(): void; resume(): void }>();
  let unpublished = 0;
  let paused = false;
  const publish = (m: LogMessage) => {
    const raw = JSON.stringify(m);
    unpublished += raw.length;
    if (!paused && unpublished > MAX_UNPUBLISHED) {
      paused = true;
      for (const o of outputs) o.pause();
    }
    void redis
      .publish(job.channel, raw)
      .catch(() => undefined)
      .finally(() => {
        unpublished -= raw.length;
        if (paused && unpublished <= MAX_UNPUBLISHED / 2) {
          paused = false;
          for (const o of outputs) o.resume();
        }
      });
  };
  const attached = new Set<string>();
  // Containers whose stream ended (stopped, or restarted since), with when: a restart is followed from there.
  const endedAt = new Map<string, number>();
  const stops: (() => void)[] = [];
  let stopped = false;
  let open = 0;
  const finish = () => {
    // A follower ends when its broker stops asking, not when the gears it started with are gone.
    if (--open === 0 && !job.follow) publish({ end: nodeId });
  };
  const attach = (c: (typeof containers)[number], tail: number, since?: number) => {
    attached.add(c.id);
    open++;
    const gear = c.labels[LABELS.gear];
    const cartridge = c.labels[LABELS.cartridge];
    const processType = c.labels[LABELS.process];
    const service = c.labels[LABELS.service];
    let output: { pause(): void; resume(): void } | undefined;
    const ended = () => {
      if (output) outputs.delete(output);
      attached.delete(c.id);
      endedAt.set(c.id, Date.now());
      finish();
    };
    docker
      .streamLogs(
        c.id,
        {
          tail,
          follow: job.follow,
          since,
          onStream: (s) => {
            output = s;
            outputs.add(s);
            if (paused) s.pause();
          },
        },
        (line, stream) => publish({ gear, cartridge, ...(processType ? { process: processType } : {}), ...(service ? { service } : {}), line, stream }),
        ended,
      )
      .then(
        (stop) => (stopped ? stop() : stops.push(stop)),
        // The container went away meanwhile (a rollout retired it): nothing more from it.
        () => ended(),
      );
  };
  // Gears that failed their rollout or were replaced first: their containers are gone, what they printed is kept.
  for (const f of failed) {
    for (const line of job.tail > 0 ? f.lines.slice(-job.tail) : [])
      publish({ gear: f.gear, cartridge: f.cartridge, line, stream: 'stdout', failed: `${f.reason ?? 'failed its rollout'} at ${f.at}` });
  }
  if (containers.length === 0 && !job.follow) publish({ end: nodeId });
  for (const c of containers) attach(c, job.tail);
  if (job.follow) {
    const started = Date.now();
    const timer = setInterval(() => {
      void (async () => {
        const alive = await redis.exists(job.alive);
        if (!alive || Date.now() - started > MAX_FOLLOW_MS) {
          stopped = true;
          clearInterval(timer);
          for (const stop of stops.splice(0)) stop();
          return;
        }
        // A new gear from its first line (-1: all of it); a gear started again from where its stream ended.
        for (const c of await gearsNow()) {
          if (attached.has(c.id) || c.state !== 'running') continue;
          const since = endedAt.get(c.id);
          attach(c, -1, since === undefined ? undefined : Math.floor(since / 1000));
        }
      })().catch(() => undefined);
    }, CHECK_MS);
  }
  return { gears: containers.length };
}
