import type { Command } from 'commander';
import type { Node, Operation } from '../api-types';
import { EXIT } from '../client';
import type { CliContext, WaitOpts } from '../context';
import { noWait } from '../options';
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
          zone: n.zone ?? '',
          ready: n.ready ? 'yes' : 'no',
          gears: `${n.allocated.gears}/${n.capacity.maxGears}`,
          memory: `${n.allocated.memoryMb}/${n.capacity.memoryMb} MB`,
          heartbeat: n.lastHeartbeat,
        })),
        ['name', 'state', 'zone', 'ready', 'gears', 'memory', 'heartbeat'],
      ),
    );
  });
  nodes
    .command('drain <node>')
    .description('move the gears off a node (start new ones elsewhere, shift traffic, stop the old); it gets no new gears')
    .addOption(noWait())
    .action(async (node: string, opts: WaitOpts) => {
      const started = await ctx.api().post<Operation>(`/nodes/${encodeURIComponent(node)}/drain`);
      const op = opts.wait === false ? started : await ctx.follow(started);
      ctx.print(op, () => (op.state === 'succeeded' ? `Node ${node} is drained.` : `Draining node ${node}: operation ${op.id} is ${op.state}.`));
      if (op.state === 'failed') process.exitCode = EXIT.operationFailed;
    });
  for (const name of ['undrain', 'activate']) {
    nodes
      .command(`${name} <node>`)
      .description('let a drained node take gears again')
      .action(async (node: string) => {
        const n = await ctx.api().post<Node>(`/nodes/${encodeURIComponent(node)}/activate`);
        ctx.print(n, () => `Node ${node} is active: it takes new gears.`);
      });
  }
  nodes
    .command('set <node>')
    .description("set a node's zone and labels (replicas of an app spread across zones)")
    .option('--zone <zone>', 'the zone the node stands in ("" for none)')
    .option('--label <key=value...>', 'a label, repeatable; replaces the labels the node has')
    .action(async (node: string, opts: { zone?: string; label?: string[] }) => {
      const body: { zone?: string | null; labels?: Record<string, string> } = {};
      if (opts.zone !== undefined) body.zone = opts.zone === '' ? null : opts.zone;
      if (opts.label) body.labels = Object.fromEntries(opts.label.map((l) => [l.split('=')[0], l.split('=').slice(1).join('=')]));
      const n = await ctx.api().patch<Node>(`/nodes/${encodeURIComponent(node)}`, body);
      ctx.print(
        n,
        () =>
          `Node ${node}: zone ${n.zone ?? '(none)'}, labels ${
            Object.entries(n.labels)
              .map(([k, v]) => `${k}=${v}`)
              .join(',') || '(none)'
          }.`,
      );
    });
}
