import type { Command } from 'commander';
import type { Deployment, DeploymentChange } from '../api-types';
import { settle } from '../changes';
import type { CliContext, DomainOpts, WaitOpts } from '../context';
import { domainOption, noWait } from '../options';
import { table } from '../output';

function releaseRow(d: Deployment): Record<string, unknown> {
  return {
    release: `${d.number}${d.active ? ' *' : ''}`,
    state: d.state,
    source: d.source.commit ? `${d.source.kind} ${d.source.commit.slice(0, 10)}` : d.source.kind,
    built: d.dockerfile ?? '-',
    created: d.createdAt,
    error: d.error ? d.error.split('\n')[0].slice(0, 60) : '',
  };
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('deployments <app>')
    .description("an app's releases, newest first")
    .addOption(domainOption())
    .action(async (app: string, opts: DomainOpts) => {
      const list = await ctx.api().get<Deployment[]>(`${ctx.appPath(opts, app)}/deployments`);
      ctx.print(list, () => table(list.map(releaseRow), ['release', 'state', 'source', 'built', 'created', 'error']));
    });

  program
    .command('rollback <app> <release>')
    .description('serve an earlier release again, without a rebuild')
    .addOption(domainOption())
    .addOption(noWait())
    .action(async (app: string, release: string, opts: DomainOpts & WaitOpts) => {
      const res = await ctx.api().post<DeploymentChange>(`${ctx.appPath(opts, app)}/deployments/${encodeURIComponent(release)}/activate`);
      await settle(
        ctx,
        res.operation,
        opts,
        () => Promise.resolve(res),
        () => `Release ${release} of ${app} is active.`,
      );
    });
}
