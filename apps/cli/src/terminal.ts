import type WebSocket from 'ws';
import { CliError, EXIT, type ApiClient } from './client';

/** What an interactive command asks for: its words, and where it runs (a process type's environment, or a gear). */
export interface TerminalRequest {
  command: string[];
  /** A terminal (-t): the command sees one, and the keys go to it as they are typed. */
  tty: boolean;
  /** An input (-i): what this process reads goes to the command. */
  stdin: boolean;
  process?: string;
  /** A named service of the app: the command runs in its image, with its environment. */
  service?: string;
  gear?: string;
}

type ServerMessage = { line: string; stream: 'stdout' | 'stderr' } | { exitCode: number } | { error: string };

/**
 * Runs a command over the broker's WebSocket (`gearshift run -it`, `gearshift exec -it`): this terminal's keys go to
 * it raw, what it prints comes back as it is, a resize of this window resizes its terminal, and its exit code is
 * returned once it ends.
 */
export async function runInTerminal(api: ApiClient, path: string, r: TerminalRequest): Promise<number> {
  const out = process.stdout;
  const query = new URLSearchParams();
  for (const word of r.command) query.append('command', word);
  query.set('tty', String(r.tty));
  query.set('stdin', String(r.stdin));
  if (r.tty) {
    query.set('cols', String(out.columns || 80));
    query.set('rows', String(out.rows || 24));
  }
  if (r.process) query.set('process', r.process);
  if (r.service) query.set('service', r.service);
  if (r.gear) query.set('gear', r.gear);
  const ws: WebSocket = await api.socket(`${path}?${query}`);
  const stdin = process.stdin;
  const raw = r.tty && r.stdin && stdin.isTTY;
  if (raw) stdin.setRawMode(true);
  const onKeys = (chunk: Buffer) => ws.send(chunk, { binary: true });
  const onEnd = () => ws.send(JSON.stringify({ eof: true }));
  const onResize = () => ws.send(JSON.stringify({ resize: { cols: out.columns, rows: out.rows } }));
  if (r.stdin) {
    stdin.on('data', onKeys);
    stdin.on('end', onEnd);
    stdin.resume();
  }
  if (r.tty) out.on('resize', onResize);
  let end: { exitCode: number } | { error: string } | undefined;
  try {
    await new Promise<void>((resolve) => {
      ws.on('message', (data: Buffer, binary: boolean) => {
        if (binary) return void out.write(data);
        const m = JSON.parse(data.toString('utf8')) as ServerMessage;
        if ('line' in m) (m.stream === 'stderr' ? process.stderr : out).write(`${m.line}\n`);
        else end = m;
      });
      ws.on('close', () => resolve());
      ws.on('error', () => resolve());
    });
  } finally {
    stdin.off('data', onKeys);
    stdin.off('end', onEnd);
    out.off('resize', onResize);
    if (raw) stdin.setRawMode(false);
    stdin.pause();
  }
  const last = end as typeof end;
  if (!last) throw new CliError('the connection to the broker closed before the command ended', EXIT.unreachable);
  if ('error' in last) throw new CliError(last.error, EXIT.operationFailed);
  return last.exitCode;
}
