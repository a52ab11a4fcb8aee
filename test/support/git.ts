import { spawn } from 'node:child_process';

/**
 * Pushes `main` of the repository in `dir` to `url` with a real git client, never asking for a password; the event
 * loop runs meanwhile (request loops go on). Resolves whether git succeeded, with everything it printed.
 */
export function gitPush(dir: string, url: string): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('git', ['-C', dir, 'push', url, 'main'], { env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('close', (code) => resolve({ ok: code === 0, output }));
  });
}
