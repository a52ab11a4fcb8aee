import { createInterface } from 'node:readline';
import { CliError, EXIT } from './client';

/** A secret from standard input (for scripts, or when it is not a terminal), or typed at a prompt that echoes nothing. */
export async function readSecret(prompt: string, fromStdin: boolean): Promise<string> {
  if (fromStdin || !process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  // Echo nothing while the password is typed.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
    if (s.startsWith(prompt)) process.stderr.write(prompt);
  };
  const answer = await new Promise<string>((resolve) => rl.question(prompt, resolve));
  rl.close();
  process.stderr.write('\n');
  return answer;
}

/** A yes/no question on the terminal; no terminal means no. */
export async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await new Promise<string>((resolve) => rl.question(`${question} [y/N] `, resolve));
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

/**
 * Several secrets: typed at prompts on a terminal (each prompt once), or, from a pipe, the first `lines` lines of
 * standard input (a script gives each once; nothing is asked twice).
 */
export async function readSecrets(prompts: string[], opts: { fromStdin: boolean; lines: number }): Promise<(string | undefined)[]> {
  if (opts.fromStdin || !process.stdin.isTTY) {
    const text = await readSecret('', true);
    const lines = text.split(/\r?\n/);
    if (lines.length < opts.lines) throw new CliError(`expected ${opts.lines} lines on standard input, got ${lines.length}`, EXIT.usage);
    return lines.slice(0, opts.lines);
  }
  const answers: string[] = [];
  for (const prompt of prompts) answers.push(await readSecret(prompt, false));
  return answers;
}
