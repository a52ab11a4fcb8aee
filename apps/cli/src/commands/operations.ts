import type { Command } from 'commander';
import type { CliContext } from '../context';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('operations')
    .description('follow or show an operation')
    .command('show <id>')
    .action(async (id: string) => {
      const op = await ctx.api().operation(id);
      // Prints the steps so far and the outcome; a running operation is reported as such, not waited on.
      const done = await ctx.follow(op, 0);
      ctx.print(done, () => `${done.kind}: ${done.state}${done.error ? ` (${done.error})` : ''}`);
    });
}
