import type IORedis from 'ioredis';
import { LABELS, redactor, RESTRICTED_SECURITY, type NodeJobs, type RunInput, type RunMessage } from '@gearshift/cartridges';
import type { DockerAdapter } from './docker.adapter';
import type { CommandInput, TerminalOptions } from './docker-terminal';

const CHECK_MS = 1000;
/**
 * Bytes of a command's output published and not yet taken by Redis: past them, the command's output is read no
 * further (it waits on its pipe, as a command piped into a slow reader does) until half of it has gone.
 */
const MAX_UNPUBLISHED = 4 * 1024 * 1024;

/** What a command of the app's (run or exec) shares: its channel, its key, its secrets, its terminal and input. */
type CommandJob = Pick<NodeJobs['app.run'], 'channel' | 'alive' | 'secrets' | 'tty' | 'input' | 'inputAcks' | 'timeoutSeconds'>;

/**
 * The far end of a command's relay: publishes its output and how it ended on the request's channel, takes its input
 * from the input channel, and aborts `gone` as soon as the broker stops refreshing the request's key (nobody reads its
 * output any more). A terminal's output is redacted chunk by chunk: a secret cut in two by the terminal's writes
 * could show, which is why the secrets' holders, not viewers, may open one.
 */
async function relayFor(redis: IORedis, job: CommandJob) {
  const redact = redactor(job.secrets);
  // A command that prints faster than Redis takes it (`yes`) would otherwise queue its output in this process's heap.
  let unpublished = 0;
  let output: { pause(): void; resume(): void } | undefined;
  let paused = false;
  const publish = (m: RunMessage) => {
    const raw = JSON.stringify(m);
    unpublished += raw.length;
    if (unpublished > MAX_UNPUBLISHED && output && !paused) {
      paused = true;
      output.pause();
    }
    return redis
      .publish(job.channel, raw)
      .catch(() => 0)
      .finally(() => {
        unpublished -= raw.length;
        if (paused && unpublished <= MAX_UNPUBLISHED / 2) {
          paused = false;
          output?.resume();
        }
      });
  };
  const gone = new AbortController();
  const watch = setInterval(() => {
    void redis.exists(job.alive).then(
      (alive) => alive || gone.abort(),
      () => undefined,
    );
  }, CHECK_MS);
  // One message after the other: keys typed after a resize reach the terminal once it has its new size. Each is
  // done once the command's connection took it, so a command that reads nothing holds the reading back.
  let inOrder = Promise.resolve();
  const take = (to: CommandInput, m: RunInput) =>
    (inOrder = inOrder.then(async () => {
      if ('data' in m) await to.write(Buffer.from(m.data, 'base64'));
      else if ('eof' in m) to.end();
      else await to.resize(m.resize.cols, m.resize.rows).catch(() => undefined);
    }));
  // The input is a Redis stream (the request's input key), read from its start on a connection of its own once the
  // command can take it: what was sent before, or while the connection was down, is still there to read, in order.
  // Pub/sub would drop a message published while the subscriber reconnects: a terminal that stops answering.
  const reader = job.input ? redis.duplicate() : undefined;
  reader?.on('error', () => undefined);
  let reading = true;
  if (reader) await publish({ started: true, stream: true });
  const terminal: TerminalOptions = {
    ...(job.tty ? { tty: job.tty } : {}),
    stdin: Boolean(job.input),
    // Not awaited: commands on one Redis connection keep their order, so the exit code still comes last.
    onData: (chunk) => void publish({ data: Buffer.from(redact(chunk.toString('utf8'))).toString('base64') }).catch(() => 0),
    onLine: (line, stream) => void publish({ line: redact(line), stream }).catch(() => 0),
    onInput: (i) => {
      if (!reader || !job.input) return;
      const acks = job.inputAcks ? (read: string, count: number) => void publish({ read, count }).catch(() => 0) : undefined;
      readInput(
        reader,
        job.input,
        (m) => take(i, m),
        () => reading,
        acks,
      ).catch(() => undefined);
    },
    timeoutMs: job.timeoutSeconds * 1000,
    signal: gone.signal,
    onOutputStream: (stream) => (output = stream),
  };
  return {
    terminal,
    publish,
    redact,
    close: () => {
      clearInterval(watch);
      reading = false;
      reader?.disconnect();
    },
  };
}

/**
 * Reads a command's input stream from its start until `more()` says stop, passing each message on in order; after
 * each batch, says how far it has read (`acked`), which lets the broker trim the stream and send more.
 */
export async function readInput(
  reader: IORedis,
  key: string,
  take: (m: RunInput) => Promise<void>,
  more: () => boolean,
  acked?: (last: string, count: number) => void,
): Promise<void> {
  let last = '0-0';
  let count = 0;
  let taken = Promise.resolve();
  while (more()) {
    const read = await reader.xread('COUNT', 100, 'BLOCK', 1000, 'STREAMS', key, last).catch(() => 'failed' as const);
    if (read === 'failed') {
      // Down for now: ioredis reconnects; the stream keeps what comes meanwhile.
      if (more()) await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    for (const [, entries] of read ?? []) {
      for (const [id, fields] of entries) {
        last = id;
        count++;
        let m: RunInput;
        try {
          m = JSON.parse(fields[1]) as RunInput;
        } catch {
          continue; // not a message of ours
        }
        taken = take(m);
      }
    }
    if (!read) continue;
    await taken;
    acked?.(last, count);
  }
}

/**
 * A one-off command of an app (`gearshift run`): a new container of its release image on its network, removed
 * afterwards. Each output line (or, with a terminal, what it prints), then the exit code, goes to the request's Redis
 * channel. The command is killed at its time limit, or as soon as nobody reads its output any more.
 */
export async function runAppCommand(docker: DockerAdapter, redis: IORedis, instance: string, job: NodeJobs['app.run']): Promise<void> {
  const relay = await relayFor(redis, job);
  try {
    const container = {
      name: `${instance}-run-${job.appId.slice(0, 8)}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`,
      image: job.image,
      command: job.command,
      env: job.env,
      labels: { ...job.labels, [LABELS.managedBy]: 'gearshift', [LABELS.instance]: instance, [LABELS.app]: job.appId, 'gearshift.role': 'run' },
      network: job.network,
      ...job.limits,
      security: job.security ?? RESTRICTED_SECURITY,
    };
    const exitCode =
      job.tty || job.input
        ? await docker.runTerminal({ ...container, ...relay.terminal, diskLimitMb: job.limits.diskMb })
        : await docker.runOnce({
            ...container,
            timeoutMs: relay.terminal.timeoutMs,
            signal: relay.terminal.signal,
            onLine: relay.terminal.onLine,
            onOutputStream: relay.terminal.onOutputStream,
            diskLimitMb: job.limits.diskMb,
          });
    await relay.publish({ exitCode });
  } catch (err) {
    await relay.publish({ error: `the command could not run: ${relay.redact((err as Error).message)}` });
  } finally {
    relay.close();
  }
}

/** A command in a running gear of the app (`gearshift exec`): its output and exit code as for a one-off command. */
export async function execAppCommand(docker: DockerAdapter, redis: IORedis, labels: Record<string, string>, job: NodeJobs['app.exec']): Promise<void> {
  const relay = await relayFor(redis, job);
  try {
    const gear = (await docker.listContainers({ ...labels, [LABELS.app]: job.appId, [LABELS.gear]: job.gearId })).find((c) => c.state === 'running');
    if (!gear) throw new Error(`gear ${job.gearId.slice(0, 8)} is not running on this node`);
    const exitCode = await docker.execTerminal(gear.id, job.command, relay.terminal);
    await relay.publish({ exitCode });
  } catch (err) {
    await relay.publish({ error: `the command could not run: ${relay.redact((err as Error).message)}` });
  } finally {
    relay.close();
  }
}
