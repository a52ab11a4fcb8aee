import { connect } from 'node:net';

/**
 * The `description` of the configuration the HAProxy worker answering on the stats socket runs with, or null when
 * none answers. The router names each configuration it renders there, so this tells which one serves.
 */
export function servedDescription(socketPath: string): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    let out = '';
    socket.setEncoding('utf8');
    socket.setTimeout(1000, () => socket.destroy());
    socket.on('connect', () => socket.write('show info\n'));
    socket.on('data', (c: string) => (out += c));
    socket.on('close', () => resolve(/^description:[ \t]*(\S*)/im.exec(out)?.[1] ?? null));
    socket.on('error', () => undefined);
  });
}

/**
 * Waits until the workers that answer run the configuration named `description`. After a reload the old worker
 * takes new connections until the master tells it that the new one runs, so for a moment both answer on the same
 * sockets: only several answers in a row from the new configuration say that new requests all meet it. Resolves
 * false when that did not happen within `timeoutMs`.
 */
export async function serving(socketPath: string, description: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let inARow = 0;
  for (;;) {
    inARow = (await servedDescription(socketPath)) === description ? inARow + 1 : 0;
    if (inARow >= 3) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}
