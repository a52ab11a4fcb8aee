import type { Command } from 'commander';
import type { LoginAnswer } from '../api-types';
import { ApiClient } from '../client';
import { configPath, writeConfig } from '../config';
import type { CliContext } from '../context';
import { readSecret } from '../prompt';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('login')
    .description('log in and keep the token in your config directory (mode 0600)')
    .option('-u, --username <name>', 'user name', 'admin')
    .option('--password-stdin', 'read the password from standard input (for scripts)')
    .action(async (opts: { username: string; passwordStdin?: boolean }) => {
      const password = await readSecret('Password: ', Boolean(opts.passwordStdin));
      // No token yet: the login goes out without one, whatever an earlier login left.
      const res = await new ApiClient(ctx.server()).post<LoginAnswer>('/auth/login', { username: opts.username, password });
      writeConfig({ ...ctx.config(), server: ctx.server(), token: res.token, username: opts.username });
      ctx.print(
        { server: ctx.server(), username: opts.username, expiresAt: res.expiresAt },
        () => `Logged in to ${ctx.server()} as ${opts.username} (token kept in ${configPath()}).`,
      );
    });
}
