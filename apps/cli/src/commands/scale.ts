import type { Command } from 'commander';
import type { ScaleRequest } from '../api-types';
import { changeApp } from '../changes';
import { CliError, EXIT } from '../client';
import type { CliContext, DomainOpts, WaitOpts } from '../context';
import { domainOption, noWait } from '../options';
import { showApp } from '../views';

interface ScaleOpts extends DomainOpts, WaitOpts {
  min?: number;
  max?: number;
  target?: number;
  process?: string;
  service?: string;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('scale <app> [replicas]')
    .description('set the number of web gears, or autoscale with --min and --max')
    .addOption(domainOption())
    .option('--min <n>', 'autoscale: fewest gears', (v) => Number(v))
    .option('--max <n>', 'autoscale: most gears', (v) => Number(v))
    .option('--target <n>', 'autoscale: concurrent requests a gear should carry', (v) => Number(v))
    .option('--process <type>', "scale the gears of one of the Procfile's process types (worker, …) instead of the web gears")
    .option('--service <name>', "scale (or autoscale, with --min and --max) one of the app's named services instead of the web gears")
    .addOption(noWait())
    .action(async (name: string, replicas: string | undefined, opts: ScaleOpts) => {
      const body: ScaleRequest | null =
        opts.min !== undefined || opts.max !== undefined
          ? {
              min: opts.min ?? 1,
              max: opts.max ?? opts.min ?? 1,
              ...(opts.target ? { targetConcurrency: opts.target } : {}),
              ...(opts.service ? { service: opts.service } : {}),
            }
          : replicas !== undefined
            ? { replicas: Number(replicas), ...(opts.process ? { process: opts.process } : {}), ...(opts.service ? { service: opts.service } : {}) }
            : null;
      if (!body) throw new CliError('give a number of gears, or --min and --max', EXIT.usage);
      const app = ctx.appPath(opts, name);
      await changeApp(ctx, { method: 'PUT', path: `${app}/scale`, body, app }, opts, showApp);
    });
}
