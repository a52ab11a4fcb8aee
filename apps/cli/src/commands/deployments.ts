import type { Command } from 'commander';
import type { Deployment, DeploymentChange } from '../api-types';
import { settle } from '../changes';
import type { CliContext, DomainOpts, WaitOpts } from '../context';
import { domainOption, noWait, wideOption, type WideOpts } from '../options';
import { Cells, table } from '../output';

/** An app's releases, newest first; a failed one's error on one line cut to fit (whole with `wide`). */
export function deploymentTable(list: Deployment[], wide = false): string {
  const cells = new Cells(wide);
  return cells.note(
    table(
      list.map((d) => releaseRow(d, cells)),
      ['release', 'state', 'source', 'built', 'created', 'error'],
    ),
  );
}

function releaseRow(d: Deployment, cells: Cells): Record<string, unknown> {
  return {
    release: `${d.number}${d.active ? ' *' : ''}`,
    state: d.state,
    source: d.source.commit ? `${d.source.kind} ${d.source.commit.slice(0, 10)}` : d.source.kind,
    built: d.dockerfile ?? '-',
    created: d.createdAt,
    error: cells.fit(d.error, 60),
  };
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('deployments <app>')
    .description("an app's releases, newest first")
    .addOption(domainOption())
    .addOption(wideOption())
    .action(async (app: string, opts: DomainOpts & WideOpts) => {
      const list = await ctx.api().get<Deployment[]>(`${ctx.appPath(opts, app)}/deployments`);
      ctx.print(list, () => deploymentTable(list, opts.wide));
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
