import { connect } from 'node:net';

/** The process id of the HAProxy worker that answers on the stats socket, or null when none answers. */
export function workerPid(socketPath: string): Promise<number | null> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    let out = '';
    socket.setEncoding('utf8');
    socket.setTimeout(1000, () => socket.destroy());
    socket.on('connect', () => socket.write('show info\n'));
    socket.on('data', (c: string) => (out += c));
    socket.on('close', () => {
      const m = /^Pid:\s*(\d+)/m.exec(out);
      resolve(m ? Number(m[1]) : null);
    });
    socket.on('error', () => undefined);
  });
}

/**
 * Waits until a worker other than `before` answers: after a reload, the old worker stops taking new connections only
 * once the new one runs with the new configuration, so from then on every new request meets the new routes.
 * Resolves false when none did within `timeoutMs`.
 */
export async function newWorkerServing(socketPath: string, before: number | null, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const pid = await workerPid(socketPath);
    if (pid !== null && pid !== before) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}
