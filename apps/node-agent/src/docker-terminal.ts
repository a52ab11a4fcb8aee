import type Docker from 'dockerode';
import type { Duplex } from 'node:stream';
import { execExitCode, runOnceContainerOptions, startExec, waitForExit, type RunOnceOptions } from './docker-exec';
import { splitLines } from './line-splitter';

/** Commands with a terminal or an input (`gearshift run -it`, `gearshift exec`). Reached through the DockerAdapter. */

/** What the far end may do to a command while it runs: type into it, close its input, resize its terminal. */
export interface CommandInput {
  /** Done once the command's connection has taken the bytes (or is gone). */
  write(data: Buffer): Promise<void>;
  end(): void;
  resize(cols: number, rows: number): Promise<void>;
}

export interface TerminalOptions {
  /** A terminal of this size; without it, stdout and stderr stay apart, line by line. */
  tty?: { cols: number; rows: number };
  /** Whether the command reads an input (the user's keys). */
  stdin: boolean;
  /** What a terminal prints, as it comes (one stream: a terminal does not keep stdout and stderr apart). */
  onData: (chunk: Buffer) => void;
  /** Each line of output without a terminal. */
  onLine: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Called once the command runs, with how to reach its input. */
  onInput?: (input: CommandInput) => void;
  timeoutMs: number;
  /** Ends the command early (nobody reads its output any more). */
  signal?: AbortSignal;
  /** Given the command's output as it is read, to pause it while what it printed has yet to go on. */
  onOutputStream?: (output: { pause(): void; resume(): void }) => void;
}

/** Wires an attached stream to the options: output out, input in. Returns what flushes the last lines. */
function wire(docker: Docker, stream: Duplex, o: TerminalOptions, resize: (cols: number, rows: number) => Promise<void>): () => void {
  let flush = () => undefined as void;
  o.onOutputStream?.(stream);
  if (o.tty) {
    stream.on('data', (c: Buffer) => o.onData(c));
  } else {
    const out = splitLines((l) => o.onLine(l, 'stdout'));
    const err = splitLines((l) => o.onLine(l, 'stderr'));
    docker.modem.demuxStream(stream, out.pass, err.pass);
    flush = () => {
      out.flush();
      err.flush();
    };
  }
  stream.on('error', (e) => o.onLine(`(output interrupted: ${e.message})`, 'stderr'));
  o.onInput?.({
    write: (data) =>
      new Promise<void>((resolve) => {
        if (!o.stdin || stream.destroyed) return resolve();
        stream.write(data, () => resolve());
      }),
    end: () => {
      if (o.stdin && !stream.destroyed) stream.end();
    },
    resize,
  });
  return flush;
}

/**
 * Runs a command once in a new container of an image, as runOnce does, but with a terminal and/or an input.
 * Returns the exit code; killed at the time limit or on the signal (-1 or the signal's code).
 */
export async function runTerminal(docker: Docker, o: RunOnceOptions & TerminalOptions): Promise<number> {
  const options = runOnceContainerOptions(o);
  const container = await docker.createContainer({
    ...options,
    // The terminal has its size from the start: a resize right after the start can come before the terminal does.
    HostConfig: { ...options.HostConfig, ...(o.tty ? { ConsoleSize: [o.tty.rows, o.tty.cols] } : {}) },
    Tty: Boolean(o.tty),
    OpenStdin: o.stdin,
    StdinOnce: o.stdin,
    AttachStdin: o.stdin,
    AttachStdout: true,
    AttachStderr: true,
  });
  try {
    const stream = (await container.attach({ stream: true, stdin: o.stdin, stdout: true, stderr: true, hijack: true })) as unknown as Duplex;
    const flush = wire(docker, stream, o, async (cols, rows) => {
      await container.resize({ w: cols, h: rows }).catch(() => undefined);
    });
    await container.start();
    if (o.tty) await container.resize({ w: o.tty.cols, h: o.tty.rows }).catch(() => undefined);
    const exitCode = await waitForExit(container, o);
    flush();
    stream.destroy();
    return exitCode;
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}

/**
 * Runs a command in a running container (`gearshift exec`), with a terminal and/or an input when asked. Returns the
 * exit code. Docker cannot kill what an exec started: at the time limit, or when nobody reads any more, the
 * connection is closed, which hangs up a terminal's shell and ends a command's input; a command that ignores both
 * goes on until it ends by itself, inside the gear, within the gear's own limits.
 */
export async function execTerminal(docker: Docker, id: string, command: string[], o: TerminalOptions): Promise<number> {
  const { exec, stream } = await startExec(docker, id, command, { stdin: o.stdin, tty: o.tty });
  const flush = wire(docker, stream, o, async (cols, rows) => {
    await exec.resize({ w: cols, h: rows }).catch(() => undefined);
  });
  const close = () => stream.destroy();
  const timer = setTimeout(close, o.timeoutMs);
  o.signal?.addEventListener('abort', close);
  try {
    await new Promise<void>((resolve) => {
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', () => resolve());
    });
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', close);
  }
  flush();
  return execExitCode(exec, 19, 100);
}
