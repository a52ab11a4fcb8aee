import type { Command } from 'commander';
import type { AuditEvent } from '../api-types';
import type { CliContext } from '../context';
import { table } from '../output';

const when = (iso: string) => iso.slice(0, 19).replace('T', ' ');

export function register(program: Command, ctx: CliContext): void {
  program
    .command('audit')
    .description("who changed what, when and from where: yours and your domains' (an administrator sees all)")
    .option('--user <name>', 'changes by this user')
    .option('--domain <domain>', 'changes to this domain')
    .option('--action <action>', 'an action (app.scale) or a family of them (app)')
    .option('--since <when>', 'a time ago (30m, 1h, 7d) or an ISO date and time')
    .option('--until <when>', 'a time ago (30m, 1h, 7d) or an ISO date and time')
    .option('--limit <n>', 'at most this many events (default 100, at most 500)')
    .action(async (opts: { user?: string; domain?: string; action?: string; since?: string; until?: string; limit?: string }) => {
      const query = new URLSearchParams(Object.entries(opts).filter((e): e is [string, string] => typeof e[1] === 'string'));
      const events = await ctx.api().get<AuditEvent[]>(`/audit${query.size > 0 ? `?${query}` : ''}`);
      ctx.print(events, () =>
        table(
          events.map((e) => ({
            time: when(e.at),
            user: e.user,
            from: e.address,
            action: e.action,
            target: e.target,
            outcome: `${e.status} ${e.outcome}`,
          })),
          ['time', 'user', 'from', 'action', 'target', 'outcome'],
        ),
      );
    });
}
