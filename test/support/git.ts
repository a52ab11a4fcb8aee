import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Runs git in `dir` as a developer named dev; returns what it printed. */
export function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, '-c', 'user.email=dev@example.com', '-c', 'user.name=dev', ...args], { encoding: 'utf8' });
}

/** A new repository (in a temporary folder named after `prefix`) holding `files`, committed on main. */
export function gitRepo(prefix: string, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), `gearshift-${prefix}-`));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'initial commit');
  return dir;
}

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
