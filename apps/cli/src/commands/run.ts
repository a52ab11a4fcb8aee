import type { Command } from 'commander';
import { CliError, EXIT, type ApiClient } from '../client';
import type { CliContext, DomainOpts } from '../context';
import { domainOption } from '../options';
import { runInTerminal } from '../terminal';

/** What the broker streams for a one-off command: its output lines, then how it ended. */
type RunMessage = { line: string; stream: 'stdout' | 'stderr' } | { exitCode: number } | { error: string };

type TerminalOpts = { interactive?: boolean; tty?: boolean };

/** Streams a command's NDJSON answer to stdout and stderr; returns its exit code. */
async function streamed(api: ApiClient, path: string, body: unknown): Promise<number> {
  let pending = '';
  let end: { exitCode: number } | { error: string } | undefined;
  const take = (line: string) => {
    if (!line) return;
    const m = JSON.parse(line) as RunMessage;
    if ('line' in m) (m.stream === 'stderr' ? process.stderr : process.stdout).write(`${m.line}\n`);
    else end = m;
  };
  for await (const chunk of api.stream(path, 'POST', body)) {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    lines.forEach(take);
  }
  take(pending);
  const last = end as typeof end;
  if (!last) throw new CliError('the broker ended the answer before the command did', EXIT.unreachable);
  if ('error' in last) throw new CliError(last.error, EXIT.operationFailed);
  return last.exitCode;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('run <app> <command...>')
    .description("run a command once in a new container of the app's release, with its environment (gearshift run [-it] APP -- cmd args…)")
    .addOption(domainOption())
    .option('--process <type>', 'take the environment and node of this Procfile process type (default: web)')
    .option('--service <name>', 'run in the image of this named service of the app, with its environment')
    .option('-i, --interactive', 'send what this command reads to it (over a WebSocket)')
    .option('-t, --tty', 'give the command a terminal (with -i: a shell, as with ssh)')
    .action(async (app: string, command: string[], opts: DomainOpts & TerminalOpts & { process?: string; service?: string }) => {
      const path = `${ctx.appPath(opts, app)}/run`;
      // The command's own exit code is the CLI's, as with ssh or docker run.
      process.exitCode =
        opts.interactive || opts.tty
          ? await runInTerminal(ctx.api(), path, {
              command,
              tty: Boolean(opts.tty),
              stdin: Boolean(opts.interactive),
              process: opts.process,
              service: opts.service,
            })
          : await streamed(ctx.api(), path, {
              command,
              ...(opts.process ? { process: opts.process } : {}),
              ...(opts.service ? { service: opts.service } : {}),
            });
    });

  program
    .command('exec <app> <words...>')
    .description(
      'run a command in a running gear of the app (gearshift exec [-it] APP [GEAR] -- cmd args…; default: a web gear; or pick one with --process or --service)',
    )
    .addOption(domainOption())
    .option('--process <type>', 'in a running gear of this Procfile process type (web, worker, …)')
    .option('--service <name>', 'in a running gear of this named service of the app')
    .option('-i, --interactive', 'send what this command reads to it (over a WebSocket)')
    .option('-t, --tty', 'give the command a terminal (with -i: a shell, as with ssh)')
    .action(async (app: string, words: string[], opts: DomainOpts & TerminalOpts & { process?: string; service?: string }) => {
      // Words before `--` name the gear; those after it are the command.
      const dashes = process.argv.indexOf('--');
      const commandLength = dashes >= 0 ? process.argv.length - dashes - 1 : words.length;
      if (commandLength < 1) throw new CliError('no command: gearshift exec APP [GEAR] -- cmd args…', EXIT.usage);
      const named = words.slice(0, words.length - commandLength);
      if (named.length > 1) throw new CliError(`one gear at most, before --; got ${named.join(' ')}`, EXIT.usage);
      const gear = named[0];
      const command = words.slice(words.length - commandLength);
      const path = `${ctx.appPath(opts, app)}/exec`;
      process.exitCode =
        opts.interactive || opts.tty
          ? await runInTerminal(ctx.api(), path, {
              command,
              tty: Boolean(opts.tty),
              stdin: Boolean(opts.interactive),
              gear,
              process: opts.process,
              service: opts.service,
            })
          : await streamed(ctx.api(), path, {
              command,
              ...(gear ? { gear } : {}),
              ...(opts.process ? { process: opts.process } : {}),
              ...(opts.service ? { service: opts.service } : {}),
            });
    });
}
