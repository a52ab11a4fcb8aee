import type Docker from 'dockerode';
import type { Duplex, Readable } from 'node:stream';
import { checkName } from './docker-names';
import { confinementHostConfig, type Confinement } from './docker-confinement';
import { splitLines } from './line-splitter';

/** Commands run in containers, and what containers print. Reached through the DockerAdapter. */

export interface RunOnceOptions extends Confinement {
  name: string;
  image: string;
  command: string[];
  env: Record<string, string>;
  labels: Record<string, string>;
  /** The network to join; Docker's default bridge when absent. */
  network?: string;
  timeoutMs: number;
  onLine: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Kills the command early (nobody reads its output any more). */
  signal?: AbortSignal;
  /** Kills the command once it has written more than this to its container's own filesystem; said on stderr. */
  diskLimitMb?: number;
  /** Given the command's output as it is read, to pause it while what it printed has yet to go on. */
  onOutputStream?: (output: { pause(): void; resume(): void }) => void;
}

/** How often a one-off command's writes to its container's filesystem are measured, when they are bounded. */
const DISK_CHECK_MS = 3000;

/**
 * Runs a command once in a new container of an image, streaming its output, and removes the container. Returns
 * the exit code; a command still running after the timeout is killed (exit code -1).
 */
export async function runOnce(docker: Docker, o: RunOnceOptions): Promise<number> {
  const container = await docker.createContainer(runOnceContainerOptions(o));
  try {
    // Attached before the start, to the stream alone: with `logs` as well, the Engine replays the log file after
    // it has joined the stream, and a line printed in between comes twice.
    const stream = (await container.attach({ stream: true, stdout: true, stderr: true })) as unknown as Readable;
    // Each stream has its own unfinished line: a stderr line is never glued to the end of a stdout one.
    const out = splitLines((l) => o.onLine(l, 'stdout'));
    const err = splitLines((l) => o.onLine(l, 'stderr'));
    // The attached output is only a view: a broken connection loses lines, not the outcome, which wait() gives.
    stream.on('error', (e) => o.onLine(`(output interrupted: ${e.message})`, 'stderr'));
    docker.modem.demuxStream(stream, out.pass, err.pass);
    o.onOutputStream?.(stream);
    await container.start();
    const exitCode = await waitForExit(container, o);
    out.flush();
    err.flush();
    return exitCode;
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}

/**
 * Waits for the command of a started one-off container to end, killing it at the time limit or on the signal, and
 * gives its exit code a moment later: the last of the attached output comes after the wait answers.
 */
export async function waitForExit(
  container: Docker.Container,
  o: { timeoutMs: number; signal?: AbortSignal; diskLimitMb?: number; onLine?: RunOnceOptions['onLine'] },
): Promise<number> {
  const kill = () => void container.kill().catch(() => undefined);
  const timer = setTimeout(kill, o.timeoutMs);
  o.signal?.addEventListener('abort', kill);
  // Docker bounds no container's writable layer on most filesystems: a command that fills the host's disk is
  // measured (the Engine sums what it wrote) and killed once over its bound.
  const limit = o.diskLimitMb;
  let measuring = false;
  const disk = limit
    ? setInterval(() => {
        if (measuring) return;
        measuring = true;
        // `size` asks the Engine for SizeRw, what the container wrote (dockerode passes it on as a query).
        void container
          .inspect({ size: true } as Docker.ContainerInspectOptions)
          .then((info) => {
            const written = (info as { SizeRw?: number }).SizeRw ?? 0;
            if (written <= limit * 1024 * 1024) return;
            o.onLine?.(
              `gearshift: killed: the command wrote ${mb(written)} to its container's filesystem, more than the ${limit} MB a one-off command may (GEARSHIFT_RUN_DISK_MB)`,
              'stderr',
            );
            kill();
          })
          .catch(() => undefined)
          .finally(() => (measuring = false));
      }, DISK_CHECK_MS)
    : undefined;
  const result = (await container.wait().finally(() => {
    clearTimeout(timer);
    clearInterval(disk);
    o.signal?.removeEventListener('abort', kill);
  })) as { StatusCode: number };
  await new Promise((r) => setTimeout(r, 50));
  return result.StatusCode;
}

/** What the Engine is asked for to create a one-off container (a deploy hook): confined as a gear is. */
export function runOnceContainerOptions(o: RunOnceOptions): Docker.ContainerCreateOptions {
  return {
    name: o.name,
    Image: o.image,
    Cmd: o.command,
    Env: Object.entries(o.env).map(([k, v]) => `${k}=${v}`),
    Labels: o.labels,
    HostConfig: { ...confinementHostConfig(o), NetworkMode: o.network ?? 'bridge' },
  };
}

/**
 * Starts a command in a running container, attached to its output, and to its input when `stdin` is set. With
 * `tty`, it runs in a terminal of that size (one output stream); without, stdout and stderr come multiplexed.
 */
export async function startExec(
  docker: Docker,
  id: string,
  command: string[],
  o: { stdin: boolean; tty?: { cols: number; rows: number } },
): Promise<{ exec: Docker.Exec; stream: Duplex }> {
  const exec = await docker.getContainer(checkName('container', id)).exec({
    Cmd: command,
    AttachStdin: o.stdin,
    AttachStdout: true,
    AttachStderr: true,
    Tty: Boolean(o.tty),
    ...(o.tty ? { ConsoleSize: [o.tty.rows, o.tty.cols] as [number, number] } : {}),
  });
  const stream = (await exec.start({ hijack: true, stdin: o.stdin, Tty: Boolean(o.tty) })) as unknown as Duplex;
  return { exec, stream };
}

/**
 * The exit code of a command started by startExec, once its stream ended: the process has ended by then, or does a
 * moment later; -1 when it still runs after `tries` looks `everyMs` apart.
 */
export async function execExitCode(exec: Docker.Exec, tries: number, everyMs: number): Promise<number> {
  let info = await exec.inspect();
  for (let i = 0; info.Running && i < tries; i++) {
    await new Promise((r) => setTimeout(r, everyMs));
    info = await exec.inspect();
  }
  return info.Running ? -1 : (info.ExitCode ?? -1);
}

/** Runs a command in a container and returns its exit code and output. */
export async function execIn(docker: Docker, id: string, command: string[]): Promise<{ exitCode: number; output: string }> {
  const { exec, stream } = await startExec(docker, id, command, { stdin: false });
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  const info = await exec.inspect();
  return { exitCode: info.ExitCode ?? -1, output: demux(Buffer.concat(chunks)) };
}

/**
 * A container's output, line by line: the last `tail` lines (all of them when negative), then new ones while
 * following. Returns a function that stops following.
 */
export async function streamLogs(
  docker: Docker,
  id: string,
  opts: {
    tail: number;
    follow: boolean;
    since?: number;
    /** Given the followed stream, to pause it while its lines have yet to go on. */
    onStream?: (output: { pause(): void; resume(): void }) => void;
  },
  onLine: (line: string, stream: 'stdout' | 'stderr') => void,
  onEnd: () => void,
): Promise<() => void> {
  // Docker's default is all of it.
  const tail = opts.tail < 0 ? undefined : opts.tail;
  const container = docker.getContainer(checkName('container', id));
  const out = splitLines((l) => onLine(l, 'stdout')).pass;
  const err = splitLines((l) => onLine(l, 'stderr')).pass;
  if (!opts.follow) {
    const buf = (await container.logs({ stdout: true, stderr: true, tail, follow: false })) as unknown as Buffer;
    for (const [stream, text] of frames(buf)) (stream === 'stderr' ? err : out).write(text);
    out.end();
    err.end();
    setImmediate(onEnd);
    return () => undefined;
  }
  const stream = (await container.logs({
    stdout: true,
    stderr: true,
    tail,
    follow: true,
    ...(opts.since ? { since: opts.since } : {}),
  })) as unknown as Readable;
  docker.modem.demuxStream(stream, out, err);
  opts.onStream?.(stream);
  stream.on('end', () => {
    out.end();
    err.end();
    onEnd();
  });
  stream.on('error', () => onEnd());
  return () => stream.destroy();
}

/**
 * Runs a command in a container with its stdout going to `stdout` (a file, say) and, when given, `stdin` fed
 * from a stream; returns the exit code and what it said on stderr.
 */
export async function execStreams(
  docker: Docker,
  id: string,
  command: string[],
  io: { stdout?: NodeJS.WritableStream; stdin?: NodeJS.ReadableStream },
): Promise<{ exitCode: number; stderr: string }> {
  const { PassThrough, Writable } = await import('node:stream');
  const { exec, stream } = await startExec(docker, id, command, { stdin: Boolean(io.stdin) });
  let stderr = '';
  const err = new Writable({
    write(chunk: Buffer, _enc, done) {
      stderr = (stderr + chunk.toString('utf8')).slice(-4000);
      done();
    },
  });
  const out = io.stdout ?? new PassThrough().resume();
  // A file that cannot be written or read (a full disk, a missing file) fails this call, not the process.
  const finished = new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
    (out as NodeJS.WritableStream).on('error', (e: Error) => {
      stream.destroy();
      reject(e);
    });
    io.stdin?.on('error', (e: Error) => {
      stream.destroy();
      reject(e);
    });
  });
  docker.modem.demuxStream(stream, out as NodeJS.WritableStream, err);
  if (io.stdin) {
    io.stdin.on('data', (c: Buffer) => stream.write(c));
    io.stdin.on('end', () => stream.end());
  }
  await finished;
  // Every byte the command printed is in the caller's stream before this returns: a file read next (a snapshot packs
  // the dump it holds) is whole, not cut where the stream's buffer had yet to reach the disk.
  if (io.stdout) {
    const stdout = io.stdout;
    await new Promise<void>((resolve, reject) => {
      stdout.once('error', reject);
      stdout.end(() => resolve());
    });
  }
  return { exitCode: await execExitCode(exec, 100, 50), stderr };
}

/** The last lines a container wrote, for error messages. */
export async function logTail(docker: Docker, id: string, lines: number): Promise<string> {
  try {
    const buf = (await docker.getContainer(checkName('container', id)).logs({ stdout: true, stderr: true, tail: lines, follow: false })) as unknown as Buffer;
    return demux(buf).trim();
  } catch {
    return '';
  }
}

/** The frames of Docker's multiplexed output: which stream, and what it said. */
function frames(buf: Buffer): ['stdout' | 'stderr', Buffer][] {
  const out: ['stdout' | 'stderr', Buffer][] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const size = buf.readUInt32BE(i + 4);
    out.push([buf[i] === 2 ? 'stderr' : 'stdout', buf.subarray(i + 8, i + 8 + size)]);
    i += 8 + size;
  }
  return i === 0 && buf.length > 0 ? [['stdout', buf]] : out;
}

/** Docker multiplexes stdout and stderr in 8-byte framed chunks when there is no TTY. */
function demux(buf: Buffer): string {
  let out = '';
  let i = 0;
  while (i + 8 <= buf.length) {
    const size = buf.readUInt32BE(i + 4);
    out += buf.subarray(i + 8, i + 8 + size).toString('utf8');
    i += 8 + size;
  }
  return i === 0 ? buf.toString('utf8') : out;
}

const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;
