import type Docker from 'dockerode';
import type { Duplex, Readable } from 'node:stream';
import { checkName } from './docker-names';
import { confinementHostConfig, type Confinement } from './docker-confinement';
import { splitLines } from './line-splitter';
import { LogCursor } from './log-cursor';

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

/** What of a container's output streamLogs gives, and how. */
export interface LogStreamOptions {
  tail: number;
  follow: boolean;
  since?: number;
  /** Given the followed stream, to pause it while its lines have yet to go on. */
  onStream?: (output: { pause(): void; resume(): void }) => void;
  /** How long a followed log may be quiet before the Engine is asked whether the follower fell behind. */
  stallCheckMs?: number;
}

/**
 * A container's output, line by line: the last `tail` lines (all of them when negative), then new ones while
 * following, past the rotations of its log file. Returns a function that stops following.
 */
export async function streamLogs(
  docker: Docker,
  id: string,
  opts: LogStreamOptions,
  onLine: (line: string, stream: 'stdout' | 'stderr') => void,
  onEnd: () => void,
): Promise<() => void> {
  // Docker's default is all of it.
  const tail = opts.tail < 0 ? undefined : opts.tail;
  const container = docker.getContainer(checkName('container', id));
  if (!opts.follow) {
    const out = splitLines((l) => onLine(l, 'stdout')).pass;
    const err = splitLines((l) => onLine(l, 'stderr')).pass;
    const buf = (await container.logs({ stdout: true, stderr: true, tail, follow: false })) as unknown as Buffer;
    for (const [stream, text] of frames(buf)) (stream === 'stderr' ? err : out).write(text);
    out.end();
    err.end();
    setImmediate(onEnd);
    return () => undefined;
  }
  return followLogs(
    docker,
    container,
    { tail, since: opts.since, onStream: opts.onStream, stallCheckMs: opts.stallCheckMs ?? LOG_STALL_CHECK_MS },
    onLine,
    onEnd,
  );
}

/** How long a followed log may be quiet before the Engine is asked whether it holds lines the follower was not sent. */
const LOG_STALL_CHECK_MS = 3000;

/**
 * Follows a container's log across the Engine's rotations of its log file. The Engine's follower can stall for good
 * when the json-file driver rotates under it (moby/moby#37646; seen here on 20.10, and fast writers rotate often), or
 * end while the container runs: when the stream ends with the container still running, or is quiet while the Engine
 * holds newer lines, it is attached again from the last line sent (`since`, by the Engine's timestamps). The cursor
 * drops what was sent already, and a line on stderr says where the Engine had rotated lines away unread.
 */
async function followLogs(
  docker: Docker,
  container: Docker.Container,
  opts: { tail?: number; since?: number; onStream?: (output: { pause(): void; resume(): void }) => void; stallCheckMs: number },
  onLine: (line: string, stream: 'stdout' | 'stderr') => void,
  onEnd: () => void,
): Promise<() => void> {
  const cursor = new LogCursor();
  const attachedAt = Math.floor(Date.now() / 1000);
  let stream: Readable | undefined;
  let stopped = false;
  let paused = false;
  let heardAt = Date.now();
  const deliver = (from: Readable, raw: string, name: 'stdout' | 'stderr') => {
    // What a replaced stream had yet to pass on comes again on the new one.
    if (from !== stream) return;
    heardAt = Date.now();
    const line = cursor.take(raw);
    if (line === 'again') return void reattach();
    if (!line) return;
    if (line.missing) onLine("gearshift: lines may be missing here: the gear's log file was rotated before they were read", 'stderr');
    onLine(line.text, name);
  };
  const finish = () => {
    if (stopped) return;
    stopped = true;
    clearInterval(watch);
    stream?.destroy();
    onEnd();
  };
  const attach = async (since: string | number | undefined, tail: number | undefined) => {
    const s = (await container.logs({
      stdout: true,
      stderr: true,
      follow: true,
      timestamps: true,
      ...(tail === undefined ? {} : { tail }),
      // The Engine takes seconds with nanoseconds as a string; dockerode types it as a number.
      ...(since ? { since: since as number } : {}),
    })) as unknown as Readable;
    if (stopped) return void s.destroy();
    stream = s;
    const out = splitLines((l) => deliver(s, l, 'stdout'));
    const err = splitLines((l) => deliver(s, l, 'stderr'));
    docker.modem.demuxStream(s, out.pass, err.pass);
    if (paused) s.pause();
    let over = false;
    const ended = () => {
      if (over) return;
      over = true;
      out.pass.end();
      err.pass.end();
      // Replaced by a newer attachment, or stopped: nothing to do.
      if (s !== stream || stopped) return;
      // A moment first, so that an Engine that keeps ending the stream is not asked again in a tight loop.
      setTimeout(() => {
        void container
          .inspect()
          .then((info) => (info.State.Running ? reattach() : finish()))
          .catch(finish);
      }, 200).unref();
    };
    s.on('end', ended);
    s.on('close', ended);
    s.on('error', ended);
  };
  let busy = false;
  const reattach = async () => {
    if (stopped || busy) return;
    busy = true;
    const old = stream;
    stream = undefined;
    old?.destroy();
    try {
      await attach(cursor.resume(opts.since ?? attachedAt), undefined);
    } catch {
      finish();
    } finally {
      busy = false;
      heardAt = Date.now();
    }
  };
  const watch = setInterval(
    () => {
      if (stopped || paused || busy || Date.now() - heardAt < opts.stallCheckMs) return;
      busy = true;
      void newestStamp(container)
        .then((stamp) => {
          busy = false;
          if (stamp && cursor.isNew(stamp)) return reattach();
          heardAt = Date.now();
        })
        .catch(() => {
          busy = false;
        });
    },
    Math.max(250, Math.floor(opts.stallCheckMs / 2)),
  );
  watch.unref();
  opts.onStream?.({
    pause() {
      paused = true;
      stream?.pause();
    },
    resume() {
      paused = false;
      heardAt = Date.now();
      stream?.resume();
    },
  });
  try {
    await attach(opts.since, opts.tail);
  } catch (err) {
    stopped = true;
    clearInterval(watch);
    throw err;
  }
  return () => {
    stopped = true;
    clearInterval(watch);
    stream?.destroy();
  };
}

/** The Engine's timestamp of the last line a container wrote (reading only the end of its log file). */
async function newestStamp(container: Docker.Container): Promise<string | undefined> {
  const buf = (await container.logs({ stdout: true, stderr: true, tail: 1, timestamps: true, follow: false })) as unknown as Buffer;
  const last = frames(buf).at(-1);
  return last ? last[1].toString('utf8').split(' ', 1)[0] : undefined;
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
