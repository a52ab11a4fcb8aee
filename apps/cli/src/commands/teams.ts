import type { Command } from 'commander';
import type { Team, TeamInfo, TeamRole } from '../api-types';
import { CliError, EXIT } from '../client';
import type { CliContext } from '../context';
import { table } from '../output';

const ROLES: readonly TeamRole[] = ['owner', 'developer', 'viewer'];

function role(value: string): TeamRole {
  if (!(ROLES as readonly string[]).includes(value)) throw new CliError(`--role: "${value}" is not one of ${ROLES.join(', ')}`, EXIT.usage);
  return value as TeamRole;
}

const path = (team: string) => `/teams/${encodeURIComponent(team)}`;
const limit = (n: number | null) => (n === null ? 'unlimited' : String(n));

export function register(program: Command, ctx: CliContext): void {
  const teams = program.command('teams').description('teams: who may read, develop or own their domains');
  teams
    .command('list', { isDefault: true })
    .description('list your teams and your role in each')
    .action(async () => {
      const list = await ctx.api().get<TeamInfo[]>('/teams');
      ctx.print(list, () =>
        table(
          list.map((t) => ({ name: t.name, role: t.role ?? '', personal: t.personal ? 'yes' : '', created: t.createdAt })),
          ['name', 'role', 'personal', 'created'],
        ),
      );
    });
  teams
    .command('show <team>')
    .description("a team's members, quota and use")
    .action(async (name: string) => {
      const t = await ctx.api().get<Team>(path(name));
      ctx.print(
        t,
        () =>
          `${table(
            t.members.map((m) => ({ member: m.username, role: m.role })),
            ['member', 'role'],
          )}\ngears ${t.use.gears} of ${limit(t.quota.maxGears)}, memory ${t.use.memoryMb} MB of ${limit(t.quota.maxMemoryMb)}${t.quota.maxMemoryMb === null ? '' : ' MB'}`,
      );
    });
  teams
    .command('create <name>')
    .description('create a team; you are its owner')
    .action(async (name: string) => {
      const t = await ctx.api().post<TeamInfo>('/teams', { name });
      ctx.print(t, () => `Created team ${t.name}; you are its owner.`);
    });
  teams
    .command('add <team> <username>')
    .description("add a member to a team, or change a member's role (owners only)")
    .option('--role <role>', `${ROLES.join(', ')}`, role, 'developer' as TeamRole)
    .action(async (team: string, username: string, opts: { role: TeamRole }) => {
      const t = await ctx.api().post<Team>(`${path(team)}/members`, { username, role: opts.role });
      ctx.print(t, () => `${username} is ${opts.role} of team ${team}.`);
    });
  teams
    .command('remove <team> <username>')
    .description('remove a member from a team (owners only; never its last owner)')
    .action(async (team: string, username: string) => {
      await ctx.api().delete<null>(`${path(team)}/members/${encodeURIComponent(username)}`);
      ctx.print({ team, removed: username }, () => `Removed ${username} from team ${team}.`);
    });
}
