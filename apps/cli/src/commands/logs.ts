import type { Command } from 'commander';
import type { CliContext, DomainOpts } from '../context';
import { domainOption } from '../options';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('logs <app>')
    .description('the output of every gear, each line tagged with its cartridge and gear')
    .addOption(domainOption())
    .option('-f, --follow', 'keep streaming new lines (Ctrl-C stops)')
    .option('-n, --tail <lines>', 'lines of each gear to start with', '100')
    .option('--process <type>', "only the gears of one of the Procfile's process types (web, worker, …)")
    .option('--service <name>', "only the gears of one of the app's named services")
    .action(async (app: string, opts: DomainOpts & { follow?: boolean; tail: string; process?: string; service?: string }) => {
      const only = (opts.process ? `&process=${encodeURIComponent(opts.process)}` : '') + (opts.service ? `&service=${encodeURIComponent(opts.service)}` : '');
      const path = `${ctx.appPath(opts, app)}/logs?tail=${encodeURIComponent(opts.tail)}&follow=${opts.follow ? 'true' : 'false'}${only}`;
      for await (const chunk of ctx.api().stream(path)) process.stdout.write(chunk);
    });
}
