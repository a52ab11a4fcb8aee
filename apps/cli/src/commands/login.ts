import type { Command } from 'commander';
import type { LoginAnswer } from '../api-types';
import { ApiClient, CliError, EXIT } from '../client';
import { configPath, writeConfig } from '../config';
import type { CliContext } from '../context';
import { readSecret, readSecrets } from '../prompt';

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

  program
    .command('logout')
    .description('revoke the token of this login and forget it')
    .action(async () => {
      const config = ctx.config();
      if (!config.token) throw new CliError('not logged in', EXIT.usage);
      try {
        await ctx.api().post<null>('/auth/logout');
      } finally {
        // Forgotten here even when the broker could not be told: the next command asks for a login either way.
        const { token: _revoked, ...rest } = config;
        writeConfig(rest);
      }
      ctx.print({ server: ctx.server(), loggedOut: true }, () => `Logged out of ${ctx.server()}; the token is revoked.`);
    });

  program
    .command('passwd')
    .description("change your password (asks for the current one); your other logins' tokens are revoked")
    .option('--password-stdin', 'read the current and the new password, one a line, from standard input (for scripts)')
    .action(async (opts: { passwordStdin?: boolean }) => {
      const [current, password, again] = await readSecrets(['Current password: ', 'New password (12 characters or more): ', 'New password again: '], {
        fromStdin: Boolean(opts.passwordStdin),
        lines: 2,
      });
      if (again !== undefined && again !== password) throw new CliError('the two new passwords differ; nothing changed', EXIT.usage);
      await ctx.api().put<null>('/users/me/password', { current, password });
      ctx.print({ passwordChanged: true }, () => 'Password changed; tokens of your other logins are revoked, this one is kept.');
    });
}
