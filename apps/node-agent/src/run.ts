import type IORedis from 'ioredis';
import { LABELS, RESTRICTED_SECURITY, type NodeJobs, type RunMessage } from '@gearshift/cartridges';
import { redactor } from './builder';
import type { DockerAdapter } from './docker.adapter';

const CHECK_MS = 1000;

/**
 * A one-off command of an app (`gearshift run`): a new container of its release image on its network, removed
 * afterwards. Each output line, then the exit code, goes to the request's Redis channel. The command is killed at
 * its time limit, or as soon as the broker stops refreshing the request's key: nobody reads its output any more.
 */
export async function runAppCommand(docker: DockerAdapter, redis: IORedis, instance: string, job: NodeJobs['app.run']): Promise<void> {
  const redact = redactor(job.secrets);
  const publish = (m: RunMessage) => redis.publish(job.channel, JSON.stringify(m)).catch(() => 0);
  const gone = new AbortController();
  const watch = setInterval(() => {
    void redis.exists(job.alive).then(
      (alive) => alive || gone.abort(),
      () => undefined,
    );
  }, CHECK_MS);
  try {
    const exitCode = await docker.runOnce({
      name: `${instance}-run-${job.appId.slice(0, 8)}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`,
      image: job.image,
      command: job.command,
      env: job.env,
      labels: { ...job.labels, [LABELS.managedBy]: 'gearshift', [LABELS.instance]: instance, [LABELS.app]: job.appId, 'gearshift.role': 'run' },
      network: job.network,
      ...job.limits,
      security: job.security ?? RESTRICTED_SECURITY,
      timeoutMs: job.timeoutSeconds * 1000,
      signal: gone.signal,
      // Not awaited: commands on one Redis connection keep their order, so the exit code still comes last.
      onLine: (line, stream) => void publish({ line: redact(line), stream }).catch(() => 0),
    });
    await publish({ exitCode });
  } catch (err) {
    await publish({ error: `the command could not run: ${redact((err as Error).message)}` });
  } finally {
    clearInterval(watch);
  }
}
