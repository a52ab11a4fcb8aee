import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { ApplyPlan, ApplyResult, PlanItem } from '../api-types';
import { CliError, EXIT } from '../client';
import type { CliContext, DomainOpts, WaitOpts } from '../context';
import { domainOption, noWait } from '../options';
import { confirm } from '../prompt';

interface ApplyOpts extends DomainOpts, WaitOpts {
  file: string;
  dryRun?: boolean;
  yes?: boolean;
}

const mark = (i: PlanItem): string => (i.action === 'remove' ? '-' : i.action === 'add' || i.action === 'create' ? '+' : '~');

function showPlan(plan: ApplyPlan, file: string): string {
  const said = [...(plan.warnings ?? []).map((w) => `  warning: ${w}`), ...(plan.notes ?? []).map((n) => `  note: ${n}`)];
  if (plan.plan.length === 0) return [`${plan.app} already is what ${file} says.`, ...said].join('\n');
  return [`Plan for ${plan.app}:`, ...plan.plan.map((i) => `  ${mark(i)} ${i.target}  (${i.reason})${i.loses ? `  LOSES ${i.loses}` : ''}`), ...said].join(
    '\n',
  );
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('apply')
    .description('show the plan for a gearshift.yml, then converge the app to it')
    .addOption(domainOption())
    .option('-f, --file <path>', 'the descriptor', 'gearshift.yml')
    .option('--dry-run', 'only show the plan')
    .option('-y, --yes', 'do not ask before a change that loses data (for scripts)')
    .addOption(noWait())
    .action(async (opts: ApplyOpts) => {
      let text: string;
      try {
        text = readFileSync(opts.file, 'utf8');
      } catch {
        throw new CliError(`cannot read ${opts.file}`, EXIT.usage);
      }
      // The broker names the file in what it says about it.
      const path = `${ctx.domainPath(opts)}/apply?file=${encodeURIComponent(basename(opts.file))}`;
      const plan = await ctx.api().upload<ApplyPlan>(`${path}&dryRun=true`, text, 'text/yaml');
      if (!ctx.json || opts.dryRun) ctx.print(plan, () => showPlan(plan, opts.file));
      if (opts.dryRun || plan.plan.length === 0) return;
      let allowDataLoss = false;
      if (plan.losesData) {
        allowDataLoss = Boolean(opts.yes) || (await confirm('This plan deletes data. Go ahead?'));
        if (!allowDataLoss) throw new CliError('not applied: the plan deletes data (confirm, or pass --yes)', EXIT.refused);
      }
      const res = await ctx.api().upload<ApplyResult>(`${path}&allowDataLoss=${allowDataLoss}`, text, 'text/yaml');
      let op = res.operation;
      if (op && opts.wait !== false) op = await ctx.follow(op);
      // People saw the plan and the progress; scripts get the outcome.
      if (ctx.json) console.log(JSON.stringify({ ...res, operation: op }, null, 2));
      if (op?.state === 'failed') process.exitCode = EXIT.operationFailed;
    });
}
