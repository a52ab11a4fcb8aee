import type { Command } from 'commander';
import type { CreatedToken, TokenInfo, TokenScope } from '../api-types';
import { CliError, EXIT } from '../client';
import type { CliContext } from '../context';
import { table } from '../output';

const SCOPES: readonly TokenScope[] = ['read', 'deploy', 'admin'];

function scope(value: string, previous: TokenScope[] | undefined): TokenScope[] {
  if (!(SCOPES as readonly string[]).includes(value)) throw new CliError(`--scope: "${value}" is not one of ${SCOPES.join(', ')}`, EXIT.usage);
  return [...(previous ?? []), value as TokenScope];
}

function days(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`--days: "${value}" is not a whole number of days, 1 or more`, EXIT.usage);
  return n;
}

const day = (iso: string | null) => (iso ? iso.slice(0, 16).replace('T', ' ') : 'never');

export function register(program: Command, ctx: CliContext): void {
  const tokens = program.command('tokens').description('your personal access tokens, for scripts and CI');
  tokens.command('list', { isDefault: true }).action(async () => {
    const list = await ctx.api().get<TokenInfo[]>('/tokens');
    ctx.print(list, () =>
      table(
        list.map((t) => ({ id: t.id, name: t.name, scopes: t.scopes.join(','), expires: day(t.expiresAt), 'last used': day(t.lastUsedAt) })),
        ['id', 'name', 'scopes', 'expires', 'last used'],
      ),
    );
  });
  tokens
    .command('create <name>')
    .description('make a token; it is printed this once and never shown again')
    .requiredOption('--scope <scope>', `what it may do: ${SCOPES.join(', ')} (repeat for more)`, scope)
    .option('--days <n>', 'days until it expires (default 30)', days)
    .action(async (name: string, opts: { scope: TokenScope[]; days?: number }) => {
      const created = await ctx.api().post<CreatedToken>('/tokens', { name, scopes: opts.scope, ...(opts.days ? { expiresInDays: opts.days } : {}) });
      ctx.print(
        created,
        () =>
          `${created.token}\nToken ${created.name} (${created.id}), scopes ${created.scopes.join(',')}, expires ${day(created.expiresAt)}. ` +
          'Copy it now: it is not shown again.',
      );
    });
  tokens
    .command('revoke <id>')
    .description('revoke a token: its next use is refused')
    .action(async (id: string) => {
      await ctx.api().delete<null>(`/tokens/${encodeURIComponent(id)}`);
      ctx.print({ id, revoked: true }, () => `Token ${id} revoked.`);
    });
}
