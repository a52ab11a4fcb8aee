import type { Command } from 'commander';
import { CliError, EXIT } from '../client';
import type { CliContext, DomainOpts } from '../context';
import { domainOption } from '../options';

/** What the broker streams for a one-off command: its output lines, then how it ended. */
type RunMessage = { line: string; stream: 'stdout' | 'stderr' } | { exitCode: number } | { error: string };

export function register(program: Command, ctx: CliContext): void {
  program
    .command('run <app> <command...>')
    .description("run a command once in a new container of the app's release, with its environment (gearshift run APP -- cmd args…)")
    .addOption(domainOption())
    .option('--process <type>', 'take the environment and node of this Procfile process type (default: web)')
    .action(async (app: string, command: string[], opts: DomainOpts & { process?: string }) => {
      const body = { command, ...(opts.process ? { process: opts.process } : {}) };
      let pending = '';
      let end: { exitCode: number } | { error: string } | undefined;
      const take = (line: string) => {
        if (!line) return;
        const m = JSON.parse(line) as RunMessage;
        if ('line' in m) (m.stream === 'stderr' ? process.stderr : process.stdout).write(`${m.line}\n`);
        else end = m;
      };
      for await (const chunk of ctx.api().stream(`${ctx.appPath(opts, app)}/run`, 'POST', body)) {
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        lines.forEach(take);
      }
      take(pending);
      const last = end as typeof end;
      if (!last) throw new CliError('the broker ended the answer before the command did', EXIT.unreachable);
      if ('error' in last) throw new CliError(last.error, EXIT.operationFailed);
      // The command's own exit code is the CLI's, as with ssh or docker run.
      process.exitCode = last.exitCode;
    });
}
