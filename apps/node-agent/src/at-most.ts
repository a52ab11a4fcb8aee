/**
 * A gate that lets at most `n` tasks run at once; the others wait their turn, in the order they came. Builds and
 * container starts of one job share the node's CPU and its Docker Engine, so they run side by side, but not all.
 */
export function atMost(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  if (!Number.isInteger(n) || n < 1) throw new Error(`atMost needs a whole number above 0, not ${n}`);
  let running = 0;
  const waiting: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    try {
      return await task();
    } finally {
      // The turn passes straight to the next task in line, so that `running` never drops below what runs.
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}

/**
 * Runs every task, at most `n` at once, and waits for all of them to end. When some fail, no task that had not
 * started yet starts, and the first failure (in the order they happened) is thrown once the running ones ended:
 * nothing is left running behind the caller's back.
 */
export async function allAtMost<T>(n: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const gate = atMost(n);
  let failure: { error: unknown } | null = null;
  const results = await Promise.allSettled(
    tasks.map((task) =>
      gate(async () => {
        if (failure) throw failure.error;
        try {
          return await task();
        } catch (err) {
          failure ??= { error: err };
          throw err;
        }
      }),
    ),
  );
  if (failure) throw (failure as { error: unknown }).error;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}
