import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './processes';
import type { Platform } from './platform';

/** The gearshift CLI as a user runs it, against `p`, keeping its login in `home`; `input` answers its prompts. */
export function runCli(p: Platform, home: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist/apps/cli/src/main.js'), ...args], {
      env: { ...process.env, XDG_CONFIG_HOME: home, GEARSHIFT_SERVER: p.baseUrl },
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c) => (stdout += c));
    child.stderr!.on('data', (c) => (stderr += c));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin!.end(input ?? '');
  });
}
