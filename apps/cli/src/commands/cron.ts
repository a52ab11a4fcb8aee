import type { Command } from 'commander';
import type { CronRunView, CronView } from '../api-types';
import type { CliContext, DomainOpts } from '../context';
import { domainOption, wideOption, type WideOpts } from '../options';
import { Cells, table } from '../output';

const when = (iso: string | null) => (iso ? iso.slice(0, 19).replace('T', ' ') : null);

/** How a run ended, in a few words. */
function outcome(r: CronRunView, cells: Cells): string {
  if (r.state === 'skipped') return 'skipped (previous run still running)';
  if (r.state === 'running') return 'running';
  return r.exitCode === null ? `failed: ${cells.fit(r.error, 60)}` : `exit ${r.exitCode}`;
}

/** An app's cron entries and their newest runs, for people: commands and failures cut to fit unless `wide`. */
export function cronView(view: CronView, opts: { runs: number; output?: boolean; wide?: boolean }): string {
  const runs = opts.runs;
  const cells = new Cells(opts.wide);
  if (view.entries.length === 0) return `no cron entries in ${view.release === null ? 'the app (no release yet)' : `release ${view.release}`}`;
  const entries = table(
    view.entries.map((e) => ({
      schedule: e.schedule,
      command: cells.fit(e.command, 50),
      process: e.process,
      service: e.service,
      next: when(e.next),
      last: e.runs[0] ? `${when(e.runs[0].dueAt)} ${outcome(e.runs[0], cells)}` : null,
    })),
    // The service column only for an app whose entries name one.
    view.entries.some((e) => e.service) ? ['schedule', 'command', 'process', 'service', 'next', 'last'] : ['schedule', 'command', 'process', 'next', 'last'],
  );
  const history = view.entries.flatMap((e) =>
    e.runs.slice(0, runs).map((r) => ({
      command: cells.fit(e.command, 30),
      due: when(r.dueAt),
      release: r.release,
      in: r.service ? `service ${r.service}` : (r.process ?? null),
      took: r.startedAt && r.finishedAt ? `${((Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000).toFixed(1)}s` : null,
      outcome: outcome(r, cells),
    })),
  );
  const parts: string[] = [entries];
  if (history.length > 0)
    parts.push(
      '',
      table(
        history,
        // Where each ran, for an app whose runs went to named services.
        history.some((h) => h.in?.startsWith('service '))
          ? ['command', 'due', 'release', 'in', 'took', 'outcome']
          : ['command', 'due', 'release', 'took', 'outcome'],
      ),
    );
  if (cells.cut) parts.push(Cells.hint);
  if (opts.output) {
    for (const e of view.entries) {
      const r = e.runs.find((x) => x.state === 'succeeded' || x.state === 'failed');
      parts.push('', `--- ${e.command} (${r ? when(r.dueAt) : 'no run yet'})`, ...(r ? [r.output.trimEnd() || '(no output)'] : []));
    }
  }
  return parts.join('\n');
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('cron <app>')
    .description("the app's cron entries (cron: in gearshift.yml), when each runs next, and how its last runs ended")
    .addOption(domainOption())
    .option('--runs <n>', 'the newest runs of each entry to list (default 5)', '5')
    .option('--output', 'print the output of the newest finished run of each entry')
    .addOption(wideOption())
    .action(async (app: string, opts: DomainOpts & WideOpts & { runs: string; output?: boolean }) => {
      const view = await ctx.api().get<CronView>(`${ctx.appPath(opts, app)}/cron`);
      const runs = Math.max(0, Number.parseInt(opts.runs, 10) || 0);
      ctx.print(view, () => cronView(view, { runs, output: opts.output, wide: opts.wide }));
    });
}
