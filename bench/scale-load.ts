import { parentPort, workerData } from 'node:worker_threads';

/** What the scale bench asks of its load: `apps` creates of `replicas` web gears, `width` at a time. */
export interface LoadOrder {
  baseUrl: string;
  token: string;
  domain: string;
  apps: number;
  replicas: number;
  width: number;
}

/** Each create's time to its answer, and the time from the first request to the last answer. */
export interface LoadResult {
  createMs: number[];
  elapsedMs: number;
}

/** A message from the load: one more app created, the end, or why it stopped. */
export type LoadMessage = { created: string } | { done: LoadResult } | { failure: string };

/**
 * The scale bench's creates, in a thread of their own: the simulated agents share the bench's main thread, and a
 * request answered while that thread converges a hundred nodes' gears would be counted late by their work, not the
 * broker's.
 */
async function run(o: LoadOrder): Promise<LoadResult> {
  const createMs: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: o.width }, async () => {
      while (next < o.apps) {
        const name = `app${next++}`;
        const asked = performance.now();
        const res = await fetch(`${o.baseUrl}/api/v1/domains/${o.domain}/apps`, {
          method: 'POST',
          headers: { authorization: `Bearer ${o.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name, cartridges: ['nodejs-18'], scale: o.replicas }),
        });
        const text = await res.text();
        createMs.push(performance.now() - asked);
        if (res.status !== 202 && res.status !== 201) throw new Error(`creating ${name}: ${res.status} ${text}`);
        parentPort!.postMessage({ created: name } satisfies LoadMessage);
      }
    }),
  );
  return { createMs, elapsedMs: performance.now() - started };
}

if (parentPort) {
  run(workerData as LoadOrder).then(
    (done) => parentPort!.postMessage({ done } satisfies LoadMessage),
    (err: Error) => parentPort!.postMessage({ failure: err.message } satisfies LoadMessage),
  );
}
