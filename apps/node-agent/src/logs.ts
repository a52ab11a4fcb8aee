import type IORedis from 'ioredis';
import { LABELS, type LogMessage, type NodeJobs } from '@gearshift/cartridges';
import type { DockerAdapter } from './docker.adapter';

/** A follower whose broker stopped refreshing its key is dropped; nobody follows for longer than this. */
const CHECK_MS = 3000;
const MAX_FOLLOW_MS = 6 * 3600 * 1000;

/**
 * Sends the output of an app's gears on this node to a Redis channel, each line tagged with its gear. Answers at
 * once and streams beside the job queue: Docker answers a follow request only once there is output, so nothing here
 * waits for it. Following goes on while the broker keeps the request's key alive.
 */
export async function streamAppLogs(
  docker: DockerAdapter,
  redis: IORedis,
  labels: Record<string, string>,
  nodeId: string,
  job: NodeJobs['app.logs'],
): Promise<{ gears: number }> {
  const containers = (await docker.listContainers({ ...labels, [LABELS.app]: job.appId })).filter((c) => c.labels[LABELS.gear]);
  const publish = (m: LogMessage) => void redis.publish(job.channel, JSON.stringify(m)).catch(() => undefined);
  let open = containers.length;
  let stopped = false;
  const stops: (() => void)[] = [];
  let timer: NodeJS.Timeout | undefined;
  const finish = () => {
    if (--open > 0) return;
    clearInterval(timer);
    publish({ end: nodeId });
  };
  const stopAll = () => {
    stopped = true;
    clearInterval(timer);
    for (const stop of stops.splice(0)) stop();
  };
  if (open === 0) publish({ end: nodeId });
  for (const c of containers) {
    const gear = c.labels[LABELS.gear];
    const cartridge = c.labels[LABELS.cartridge];
    docker.streamLogs(c.id, { tail: job.tail, follow: job.follow }, (line, stream) => publish({ gear, cartridge, line, stream }), finish).then(
      (stop) => (stopped ? stop() : stops.push(stop)),
      // The container went away meanwhile (a rollout retired it): nothing more from it.
      () => finish(),
    );
  }
  if (job.follow && containers.length > 0) {
    const started = Date.now();
    timer = setInterval(() => {
      void redis.exists(job.alive).then((alive) => {
        if (!alive || Date.now() - started > MAX_FOLLOW_MS) stopAll();
      }, () => undefined);
    }, CHECK_MS);
  }
  return { gears: containers.length };
}
