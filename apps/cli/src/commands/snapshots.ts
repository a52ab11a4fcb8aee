import type { Command } from 'commander';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { SnapshotRestore } from '../api-types';
import { settle } from '../changes';
import { CliError, EXIT } from '../client';
import type { CliContext, DomainOpts, WaitOpts } from '../context';
import { domainOption, noWait } from '../options';

export function register(program: Command, ctx: CliContext): void {
  const snapshots = program.command('snapshots').description("an app's data (database dumps, cache keys, volume files) as one .tar.gz");
  snapshots
    .command('take <app>')
    .description("download a snapshot of the app's data")
    .addOption(domainOption())
    .option('-o, --output <file>', 'where to write it (default: the name the broker suggests)')
    .action(async (app: string, opts: DomainOpts & { output?: string }) => {
      if (!ctx.json) process.stderr.write(`-----> taking a snapshot of ${app}\n`);
      const { data, filename } = await ctx.api().download('POST', `${ctx.appPath(opts, app)}/snapshots`);
      const file = opts.output ?? filename ?? `${app}.tar.gz`;
      // The data may hold credentials and users' records: only its owner reads it.
      writeFileSync(file, data, { mode: 0o600 });
      ctx.print({ file, bytes: data.length }, () => `Wrote ${file} (${(data.length / 1024).toFixed(0)} KB).`);
    });
  snapshots
    .command('restore <app> <file>')
    .description("put a snapshot's data back, into this app or another with the same cartridges")
    .addOption(domainOption())
    .addOption(noWait())
    .action(async (app: string, file: string, opts: DomainOpts & WaitOpts) => {
      if (!existsSync(file)) throw new CliError(`no file ${file}`, EXIT.usage);
      const res = await ctx.api().upload<SnapshotRestore>(`${ctx.appPath(opts, app)}/snapshots/restore`, readFileSync(file), 'application/gzip');
      await settle(
        ctx,
        res.operation,
        opts,
        () => Promise.resolve(res),
        () => `Restored ${res.restores.join(', ')} into ${app}.`,
      );
    });
}
