import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionLimits {
  /** Connections the broker holds open at once, over all its listeners. */
  total: number;
  /** Connections one client address holds open at once. */
  perAddress: number;
}

/**
 * Holds the broker's open connections under `limits`: a connection over either is closed as soon as it is accepted,
 * before it is read. Without a bound, clients that open connections and send their headers a byte at a time take
 * every file descriptor of the process, and the broker can no longer reach Postgres or Redis (EMFILE). A client
 * address over its share is refused while the others are still served. `refused` hears of each refusal.
 */
export function limitConnections(servers: Server[], limits: ConnectionLimits, refused: (address: string, why: 'total' | 'address') => void): void {
  const byAddress = new Map<string, number>();
  let open = 0;
  const accept = (socket: Socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    const held = byAddress.get(address) ?? 0;
    const why = open >= limits.total ? 'total' : held >= limits.perAddress ? 'address' : undefined;
    if (why) {
      socket.destroy();
      refused(address, why);
      return;
    }
    open++;
    byAddress.set(address, held + 1);
    socket.once('close', () => {
      open--;
      const left = (byAddress.get(address) ?? 1) - 1;
      if (left > 0) byAddress.set(address, left);
      else byAddress.delete(address);
    });
  };
  for (const server of servers) server.on('connection', accept);
}

/**
 * Says what limitConnections refused at most once per `everyMs`: how many connections, and the addresses refused
 * most, so that a flood makes one line a period, not one a connection.
 */
export function refusalLog(say: (line: string) => void, everyMs = 10_000): (address: string, why: 'total' | 'address') => void {
  let counts = new Map<string, number>();
  let total = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    const top = [...counts.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([a, n]) => `${a} (${n})`)
      .join(', ');
    say(`refused ${total} connection(s) over the limits (GEARSHIFT_MAX_CONNECTIONS, GEARSHIFT_MAX_CONNECTIONS_PER_ADDRESS); most from ${top}`);
    counts = new Map();
    total = 0;
  };
  return (address) => {
    total++;
    counts.set(address, (counts.get(address) ?? 0) + 1);
    timer ??= setTimeout(flush, everyMs).unref();
  };
}
