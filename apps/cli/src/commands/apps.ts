import type { Command } from 'commander';
import type { App, AppChange, AppDeleted, AppOperation, AppRecovery } from '../api-types';
import { changeApp, settle } from '../changes';
import { EXIT } from '../client';
import type { CliContext, DomainOpts, WaitOpts } from '../context';
import { collect, domainOption, noWait, parseAssignment, wideOption, type WideOpts } from '../options';
import { metricsView, type AppMetrics } from '../metrics-view';
import { appTable, operationTable, showApp } from '../views';

interface CreateOpts extends DomainOpts, WaitOpts {
  cartridge: string[];
  scale?: number;
  size?: string;
  env: string[];
}

export function register(program: Command, ctx: CliContext): void {
  const apps = program.command('apps').alias('app').description('create, inspect and manage apps');
  apps
    .command('list', { isDefault: true })
    .description('list the apps of a domain')
    .addOption(domainOption())
    .action(async (opts: DomainOpts) => {
      const list = await ctx.api().get<App[]>(`${ctx.domainPath(opts)}/apps`);
      ctx.print(list, () => appTable(list));
    });
  apps
    .command('create <name>')
    .description('create an app from cartridges, e.g. -c nodejs -c postgresql (the newest current) or -c nodejs-22 (pinned)')
    .addOption(domainOption())
    .requiredOption('-c, --cartridge <name>', 'a cartridge (repeat for more)', collect, [])
    .option('--scale <n>', 'web gears', (v) => Number(v))
    .option('--size <size>', 'gear size: small, medium or large')
    .option('-e, --env <NAME=value>', 'an environment variable (repeat for more)', collect, [])
    .addOption(noWait())
    .action(async (name: string, opts: CreateOpts) => {
      const env = Object.fromEntries(opts.env.map(parseAssignment));
      const body = {
        name,
        cartridges: opts.cartridge,
        ...(opts.scale ? { scale: opts.scale } : {}),
        ...(opts.size ? { size: opts.size } : {}),
        ...(opts.env.length ? { env } : {}),
      };
      const res = await ctx.api().post<AppChange>(`${ctx.domainPath(opts)}/apps`, body);
      for (const w of res.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
      await settle(ctx, res.operation, opts, () => ctx.api().get<App>(ctx.appPath(opts, name)), showApp);
    });
  apps
    .command('show <name>')
    .description('an app: status, URL, cartridges, gears')
    .addOption(domainOption())
    .action(async (name: string, opts: DomainOpts) => {
      const app = await ctx.api().get<App>(ctx.appPath(opts, name));
      ctx.print(app, () => showApp(app));
    });
  for (const action of ['start', 'stop', 'restart'] as const) {
    apps
      .command(`${action} <name>`)
      .description(`${action} an app's gears`)
      .addOption(domainOption())
      .addOption(noWait())
      .action(async (name: string, opts: DomainOpts & WaitOpts) => {
        const app = ctx.appPath(opts, name);
        await changeApp(ctx, { method: 'POST', path: `${app}/actions`, body: { action }, app }, opts, showApp);
      });
  }
  apps
    .command('delete <name>')
    .description('delete an app with its gears and data')
    .addOption(domainOption())
    .addOption(noWait())
    .action(async (name: string, opts: DomainOpts & WaitOpts) => {
      const path = ctx.appPath(opts, name);
      const res = await ctx.api().delete<AppChange | AppDeleted>(path);
      // Gone at once, or still going while its gears stop: then the app is read again once the operation ends.
      const latest = async (): Promise<App | AppDeleted> =>
        'deleted' in res
          ? res
          : ctx
              .api()
              .get<App>(path)
              .catch(() => res);
      await settle(ctx, res.operation, opts, latest, () => `Deleted app ${name}.`);
    });
  apps
    .command('metrics <name>')
    .description("an app's latest requests per second, response time and errors, and its gears' CPU and memory")
    .addOption(domainOption())
    .option('--minutes <n>', 'how far back to look, 1 to 60 (with --json, every point)', '5')
    .action(async (name: string, opts: DomainOpts & { minutes: string }) => {
      const m = await ctx.api().get<AppMetrics>(`${ctx.appPath(opts, name)}/metrics?minutes=${encodeURIComponent(opts.minutes)}`);
      ctx.print(m, () => metricsView(m));
    });

  apps
    .command('recover <name>')
    .description("move a degraded app's data gears off a lost node and restore its latest kept snapshot there")
    .addOption(domainOption())
    .action(async (name: string, opts: DomainOpts) => {
      // Both steps (the move, then the restore) run on the broker, one after the other: the answer comes at the end.
      const res = await ctx.api().post<AppRecovery>(`${ctx.appPath(opts, name)}/recover?wait=600`);
      ctx.print(res, () =>
        [
          ...res.moved.map((m) => `Moved ${m.cartridge} ${m.gear.slice(0, 8)} from ${m.from} to ${m.to}.`),
          res.snapshot ? `Restored the snapshot taken ${res.snapshot.takenAt}.` : 'The broker keeps no snapshot of this app: its data starts empty.',
        ].join('\n'),
      );
      if (res.operation.state === 'failed') process.exitCode = EXIT.operationFailed;
    });
  apps
    .command('operations <name>')
    .description("an app's operations, newest first, and why they happened")
    .addOption(domainOption())
    .addOption(wideOption())
    .action(async (name: string, opts: DomainOpts & WideOpts) => {
      const ops = await ctx.api().get<AppOperation[]>(`${ctx.appPath(opts, name)}/operations`);
      ctx.print(ops, () => operationTable(ops, opts.wide));
    });
}
