#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { CliError, EXIT } from './client';
import { CliContext, NoDomainError } from './context';
import { register as registerApply } from './commands/apply';
import { register as registerApps } from './commands/apps';
import { register as registerAudit } from './commands/audit';
import { register as registerCartridges } from './commands/cartridges';
import { register as registerCron } from './commands/cron';
import { register as registerDeploy } from './commands/deploy';
import { register as registerDeployments } from './commands/deployments';
import { register as registerDomains } from './commands/domains';
import { register as registerEnv } from './commands/env';
import { register as registerImport } from './commands/import';
import { register as registerLogin } from './commands/login';
import { register as registerLogs } from './commands/logs';
import { register as registerNodes } from './commands/nodes';
import { register as registerOperations } from './commands/operations';
import { register as registerRun } from './commands/run';
import { register as registerScale } from './commands/scale';
import { register as registerSnapshots } from './commands/snapshots';
import { register as registerTeams } from './commands/teams';
import { register as registerTokens } from './commands/tokens';

/**
 * `gearshift`: the platform from a terminal. Tables for people, --json for scripts, progress on long operations on
 * stderr, and exit codes: 0 done, 1 the operation failed, 2 bad usage, 3 the broker refused, 4 broker unreachable.
 */

const EXIT_CODES = `
Exit codes:
  0  done
  1  the operation failed (or the command the CLI ran exited 1: run and exec exit with its code)
  2  bad usage: an unknown command or option, a missing or malformed argument (the usage line goes to stderr)
  3  the broker refused the request (not found, not allowed, invalid)
  4  the broker could not be reached`;

const program = new Command('gearshift')
  .description('Drive a Gearshift platform: domains, apps, cartridges, environment, scaling, nodes.')
  .addOption(new Option('--server <url>', 'the broker (default: the one you logged in to, or http://127.0.0.1:8080)').env('GEARSHIFT_SERVER'))
  .option('--json', 'print JSON for scripts instead of tables')
  .showHelpAfterError('(add --help for the options and more)')
  .configureOutput({ outputError: (str, write) => write(str) })
  .addHelpText('after', EXIT_CODES);

const ctx = new CliContext(program);

// In the order `gearshift --help` lists them.
for (const register of [
  registerLogin,
  registerTokens,
  registerTeams,
  registerDomains,
  registerApps,
  registerCartridges,
  registerEnv,
  registerScale,
  registerApply,
  registerImport,
  registerNodes,
  registerDeploy,
  registerDeployments,
  registerLogs,
  registerRun,
  registerCron,
  registerSnapshots,
  registerOperations,
  registerAudit,
]) {
  register(program, ctx);
}

/** `gearshift apps show [options] <name>`: how a command is called, as its usage errors show it. */
function usageOf(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return `usage: ${names.join(' ')} ${command.usage()}`;
}

/**
 * Every command, not only the top one, hands its usage errors (an unknown option, a missing argument) to main() rather
 * than exiting 1 itself, and prints its usage line under the error: commander gives each command its own exit
 * handling when it is made, so the override is set on each once all are registered.
 */
function overrideExits(command: Command): void {
  command.exitOverride();
  command.configureOutput({ outputError: (str, write) => write(`${str}${usageOf(command)}\n`) });
  command.commands.forEach(overrideExits);
}

/** The command whose action runs: a usage error it finds itself (a malformed argument) shows its usage line too. */
let acting: Command | undefined;
program.hook('preAction', (_program, actionCommand) => {
  acting = actionCommand;
});

async function main(): Promise<void> {
  overrideExits(program);
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : EXIT.usage;
      return;
    }
    // No domain chosen: its message says how to choose one, which is more use than the usage line.
    const noDomain = err instanceof NoDomainError;
    if (noDomain) err = new CliError(await ctx.noDomainMessage(), EXIT.usage);
    if (err instanceof CliError) {
      if (ctx.json) console.log(JSON.stringify({ error: err.message, details: err.details }, null, 2));
      console.error(`error: ${err.message}`);
      for (const d of err.details) console.error(`  ${d.pointer || '/'}: ${d.message}`);
      if (err.exitCode === EXIT.usage && acting && !noDomain) console.error(usageOf(acting));
      process.exitCode = err.exitCode;
      return;
    }
    throw err;
  }
}

main().catch((err: unknown) => {
  // Not an error the CLI words itself: show it whole, so that it can be reported.
  console.error(err);
  process.exitCode = 1;
});
