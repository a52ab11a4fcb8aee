import { spawn } from 'node:child_process';

/** The host's Docker Engine as the lab drives it: the docker command line, one call at a time. */

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `docker ...args`; `echo` streams its output to this process's as it comes (a build, a join). */
export function docker(args: string[], opts: { echo?: boolean; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // Input only when there is some: a command that ends before it reads (or at once, refused) would otherwise
    // break the pipe under the write, and an unhandled EPIPE ends this process instead of giving the exit code.
    const child = spawn('docker', args, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (opts.echo) process.stdout.write(c);
    });
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (opts.echo) process.stderr.write(c);
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    if (child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
    }
  });
}

/** Like docker(), but a non-zero exit is an error that carries what Docker said. */
export async function mustDocker(args: string[], opts: { echo?: boolean; input?: string } = {}): Promise<string> {
  const res = await docker(args, opts);
  if (res.code !== 0) throw new Error(`docker ${args[0]} ${args[1] ?? ''} failed (${res.code}): ${(res.stderr || res.stdout).trim().slice(-2000)}`);
  return res.stdout.trim();
}
