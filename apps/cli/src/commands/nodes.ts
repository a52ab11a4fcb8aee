import type { Command } from 'commander';
import type { Node } from '../api-types';
import type { CliContext } from '../context';
import { table } from '../output';

export function register(program: Command, ctx: CliContext): void {
  const nodes = program.command('nodes').description("operators: the platform's hosts");
  nodes.command('list', { isDefault: true }).action(async () => {
    const list = await ctx.api().get<Node[]>('/nodes');
    ctx.print(list, () =>
      table(
        list.map((n) => ({
          name: n.name,
          state: n.state,
          ready: n.ready ? 'yes' : 'no',
          gears: `${n.allocated.gears}/${n.capacity.maxGears}`,
          memory: `${n.allocated.memoryMb}/${n.capacity.memoryMb} MB`,
          heartbeat: n.lastHeartbeat,
        })),
        ['name', 'state', 'ready', 'gears', 'memory', 'heartbeat'],
      ),
    );
  });
  nodes
    .command('drain <node>')
    .description('place no new gears on a node')
    .action(async (node: string) => {
      const n = await ctx.api().post<Node>(`/nodes/${encodeURIComponent(node)}/drain`);
      ctx.print(n, () => `Node ${node} is draining: it gets no new gears.`);
    });
}
