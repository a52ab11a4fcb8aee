import type { Command } from 'commander';
import type { Domain } from '../api-types';
import { CliError, EXIT } from '../client';
import { writeConfig } from '../config';
import type { CliContext } from '../context';
import { table } from '../output';

export function register(program: Command, ctx: CliContext): void {
  const domains = program.command('domains').description('namespaces of apps');
  domains
    .command('list', { isDefault: true })
    .description('list your domains')
    .action(async () => {
      const list = await ctx.api().get<Domain[]>('/domains');
      const current = ctx.config().domain;
      ctx.print(list, () =>
        table(
          list.map((d) => ({ name: d.name, team: d.team ?? '', default: d.name === current ? '*' : '', created: d.createdAt })),
          ['name', 'team', 'default', 'created'],
        ),
      );
    });
  domains
    .command('create <name>')
    .description('create a domain (it becomes your default when you have none)')
    .option('--team <team>', 'the team that holds it (default: your own team)')
    .action(async (name: string, opts: { team?: string }) => {
      const d = await ctx
        .api()
        .post<Domain>('/domains', { name, ...(opts.team ? { team: opts.team } : {}) })
        .catch(async (err: unknown) => {
          // Taken by the user themself (made through the API or the console): what they want is to use it.
          const mine =
            err instanceof CliError &&
            err.status === 409 &&
            (await ctx
              .api()
              .get<Domain[]>('/domains')
              .catch(() => [] as Domain[]));
          if (mine && mine.some((x) => x.name === name))
            throw new CliError(`you already have the domain ${name}: make it the default with: gearshift domains use ${name}`, EXIT.refused);
          throw err;
        });
      if (!ctx.config().domain) writeConfig({ ...ctx.config(), domain: name });
      ctx.print(d, () => `Created domain ${name} in team ${d.team}.`);
    });
  domains
    .command('use <name>')
    .description('make a domain the default for later commands')
    .action(async (name: string) => {
      await ctx.api().get<Domain>(`/domains/${encodeURIComponent(name)}`);
      writeConfig({ ...ctx.config(), domain: name });
      ctx.print({ domain: name }, () => `Commands now use domain ${name}.`);
    });
  domains
    .command('delete <name>')
    .description('delete an empty domain')
    .action(async (name: string) => {
      await ctx.api().delete<unknown>(`/domains/${encodeURIComponent(name)}`);
      if (ctx.config().domain === name) writeConfig({ ...ctx.config(), domain: undefined });
      ctx.print({ deleted: name }, () => `Deleted domain ${name}.`);
    });
}
