import type { Command } from 'commander';
import type { Cartridge } from '../api-types';
import { changeApp } from '../changes';
import type { CliContext, DomainOpts, WaitOpts } from '../context';
import { domainOption, noWait } from '../options';
import { table } from '../output';
import { showApp } from '../views';

export function register(program: Command, ctx: CliContext): void {
  const cartridges = program.command('cartridges').description('the catalogue, and the cartridges of an app');
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
}
