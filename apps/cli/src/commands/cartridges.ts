import type { Command } from 'commander';
import type { App, Cartridge } from '../api-types';
import { changeApp } from '../changes';
import { CliError, EXIT } from '../client';
import type { CliContext, DomainOpts, WaitOpts } from '../context';
import { domainOption, noWait } from '../options';
import { table } from '../output';
import { showApp } from '../views';

export function register(program: Command, ctx: CliContext): void {
  const cartridges = program.command('cartridges').alias('cartridge').description('the catalogue, and the cartridges of an app');
  cartridges
    .command('list', { isDefault: true })
    .description('the catalogue')
    .action(async () => {
      const list = await ctx.api().get<Cartridge[]>('/cartridges');
      ctx.print(list, () =>
        table(
          list.map((c) => ({
            name: c.name,
            categories: c.categories.join(','),
            version: c.version,
            // A family name (`nodejs`) in a request means the cartridge marked default here.
            status: `${c.status ?? 'current'}${c.defaultFor ? ` (default for ${c.defaultFor})` : ''}`,
            'end-of-life': c.endOfLife ?? '-',
            description: c.displayName,
          })),
          ['name', 'categories', 'version', 'status', 'end-of-life', 'description'],
        ),
      );
    });
  cartridges
    .command('add <app> <cartridge>')
    .description('embed a cartridge in an app (its variables reach the web gears)')
    .addOption(domainOption())
    .addOption(noWait())
    .action(async (name: string, cartridge: string, opts: DomainOpts & WaitOpts) => {
      const app = ctx.appPath(opts, name);
      await changeApp(ctx, { method: 'POST', path: `${app}/cartridges`, body: { cartridge }, app }, opts, showApp);
    });
  cartridges
    .command('remove <app> <cartridge>')
    .description('remove a cartridge and its data from an app')
    .addOption(domainOption())
    .addOption(noWait())
    .action(async (name: string, cartridge: string, opts: DomainOpts & WaitOpts) => {
      const app = ctx.appPath(opts, name);
      await changeApp(ctx, { method: 'DELETE', path: `${app}/cartridges/${encodeURIComponent(cartridge)}`, app }, opts, showApp);
    });
  cartridges
    .command('upgrade <app> [cartridge]')
    .description(
      'move a database to a new major version, keeping every row (--to postgresql-17); the old one stays stopped, its volume kept, until --confirm (it goes) or --abort (it serves again)',
    )
    .option('--to <cartridge>', 'the cartridge that takes over the data')
    .option('--confirm', 'the upgrade is good: remove the old database and its volume')
    .option('--abort', 'go back to the old database (what was written to the new one since is lost)')
    .addOption(domainOption())
    .addOption(noWait())
    .action(async (name: string, cartridge: string | undefined, opts: DomainOpts & WaitOpts & { to?: string; confirm?: boolean; abort?: boolean }) => {
      const app = ctx.appPath(opts, name);
      const settling = opts.confirm || opts.abort;
      if ([opts.to, opts.confirm, opts.abort].filter(Boolean).length !== 1)
        throw new CliError('give one of --to <cartridge>, --confirm or --abort', EXIT.usage);
      if (!settling && !cartridge)
        throw new CliError('name the cartridge to upgrade: gearshift cartridge upgrade APP postgresql-15 --to postgresql-17', EXIT.usage);
      // --confirm and --abort need no name: the app keeps at most one upgraded database at a time.
      const kept = cartridge ?? (await ctx.api().get<App>(app)).kept?.[0]?.cartridge;
      if (!kept) throw new CliError(`app ${name} has no upgrade waiting to be confirmed or aborted`, EXIT.refused);
      const body = settling ? (opts.confirm ? { confirm: true } : { abort: true }) : { to: opts.to };
      await changeApp(ctx, { method: 'POST', path: `${app}/cartridges/${encodeURIComponent(kept)}/upgrade`, body, app }, opts, showApp);
    });
}
