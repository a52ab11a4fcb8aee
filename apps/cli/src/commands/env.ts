import type { Command } from 'commander';
import type { AppEnv } from '../api-types';
import { changeApp } from '../changes';
import type { CliContext, DomainOpts, WaitOpts } from '../context';
import { domainOption, noWait, parseAssignment } from '../options';
import { table } from '../output';

export function register(program: Command, ctx: CliContext): void {
  const env = program.command('env').description("an app's environment variables (the gears restart with new values)");
  env
    .command('list <app>', { isDefault: true })
    .description("your variables and those the app's services publish (DATABASE_URL...); secret values masked")
    .addOption(domainOption())
    .option('--reveal', 'show the values of secret variables (generated passwords); with --json, every variable the web gears see')
    .action(async (app: string, opts: DomainOpts & { reveal?: boolean }) => {
      // The broker masks secret values unless asked to reveal them; the CLI prints what it is given.
      const res = await ctx.api().get<AppEnv>(`${ctx.appPath(opts, app)}/env${opts.reveal ? '?reveal=true' : ''}`);
      const published = res.published ?? [];
      // Without --reveal, --json keeps printing only your own variables, as scripts have read them so far.
      const json = opts.reveal ? { ...Object.fromEntries([...published].reverse().map((p) => [p.name, p.value])), ...res.env } : res.env;
      const rows = [
        ...Object.entries(res.env).map(([name, value]) => ({ name, value, from: 'you' })),
        ...published.map((p) => ({ name: p.name, value: p.value, from: p.from })),
      ];
      ctx.print(json, () => table(rows, ['name', 'value', 'from']));
    });
  env
    .command('set <app> <assignments...>')
    .description('set variables: NAME=value ...')
    .addOption(domainOption())
    .addOption(noWait())
    .action(async (name: string, assignments: string[], opts: DomainOpts & WaitOpts) => {
      const app = ctx.appPath(opts, name);
      const body = Object.fromEntries(assignments.map(parseAssignment));
      await changeApp(
        ctx,
        { method: 'PATCH', path: `${app}/env`, body, app },
        opts,
        (a) => `Set ${assignments.map((x) => x.split('=')[0]).join(', ')} on ${a.name}.`,
      );
    });
  env
    .command('unset <app> <names...>')
    .description('remove variables')
    .addOption(domainOption())
    .addOption(noWait())
    .action(async (name: string, names: string[], opts: DomainOpts & WaitOpts) => {
      const app = ctx.appPath(opts, name);
      const body = Object.fromEntries(names.map((n) => [n, null]));
      await changeApp(ctx, { method: 'PATCH', path: `${app}/env`, body, app }, opts, (a) => `Unset ${names.join(', ')} on ${a.name}.`);
    });
}
