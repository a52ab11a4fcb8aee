import type { App, AppChange, Operation } from './api-types';
import { EXIT } from './client';
import type { CliContext, WaitOpts } from './context';

/**
 * The end of every command that starts an operation: follows it (unless --no-wait), prints what `latest` gives
 * with the operation beside it, and exits 1 when the operation failed.
 */
export async function settle<L extends object>(
  ctx: CliContext,
  started: Operation | null | undefined,
  opts: WaitOpts,
  latest: () => Promise<L>,
  render: (latest: L) => string,
): Promise<void> {
  let op = started ?? undefined;
  if (op && opts.wait !== false) op = await ctx.follow(op);
  const value = await latest();
  ctx.print({ ...value, operation: op }, () => render(value));
  if (op?.state === 'failed') process.exitCode = EXIT.operationFailed;
}

/**
 * Sends a change to an app (an action, a cartridge, its environment, its scale), follows its operation, and prints
 * the app as it is once the operation has ended; as the change answered it when the app cannot be read again.
 */
export async function changeApp(
  ctx: CliContext,
  request: { method: 'POST' | 'PUT' | 'PATCH' | 'DELETE'; path: string; body?: unknown; app: string },
  opts: WaitOpts,
  render: (app: App) => string,
): Promise<void> {
  const res = await ctx.api().call<AppChange>(request.method, request.path, request.body);
  await settle(
    ctx,
    res.operation,
    opts,
    () =>
      ctx
        .api()
        .get<App>(request.app)
        .catch(() => res),
    render,
  );
}
