import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { limitConnections, refusalLog } from './connection-limits';

/** A connection that sends the start of a request and never finishes it, as a slow client does; whether it was closed. */
async function slowClient(port: number, host = '127.0.0.1'): Promise<{ socket: Socket; closed: Promise<void> }> {
  const socket = connect(port, host);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write('GET / HTTP/1.1\r\nHost: x\r\nX-a: ');
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  return { socket, closed };
}

const isClosed = (p: Promise<void>, ms = 500) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

async function listening(server: Server, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as AddressInfo).port;
}

describe('limitConnections', () => {
  it("closes an address's connections over its share at once, and takes them again once some close", async () => {
    const server = createServer((_req, res) => res.end('ok'));
    const refusals: string[] = [];
    limitConnections([server], { total: 100, perAddress: 3 }, (address, why) => refusals.push(`${address} ${why}`));
    const port = await listening(server);
    try {
      const held = await Promise.all([1, 2, 3].map(() => slowClient(port)));
      const over = await slowClient(port);
      assert.equal(await isClosed(over.closed), true, 'the fourth connection of one address is closed');
      for (const c of held) assert.equal(await isClosed(c.closed, 50), false, 'the first three stay open');
      assert.deepEqual(refusals, ['127.0.0.1 address']);
      held[0].socket.destroy();
      await held[0].closed;
      await new Promise((r) => setTimeout(r, 50));
      const again = await slowClient(port);
      assert.equal(await isClosed(again.closed, 200), false, 'a place freed is taken again');
      for (const c of [...held, again]) c.socket.destroy();
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('counts every listener against one total', async () => {
    const a = createServer((_req, res) => res.end('a'));
    const b = createServer((_req, res) => res.end('b'));
    const refusals: string[] = [];
    limitConnections([a, b], { total: 2, perAddress: 10 }, (_address, why) => refusals.push(why));
    const [pa, pb] = [await listening(a), await listening(b)];
    try {
      const first = await slowClient(pa);
      const second = await slowClient(pb);
      const third = await slowClient(pb);
      assert.equal(await isClosed(third.closed), true);
      assert.deepEqual(refusals, ['total']);
      assert.equal(await isClosed(first.closed, 50), false);
      first.socket.destroy();
      second.socket.destroy();
    } finally {
      for (const s of [a, b]) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
    }
  });

  it('says what it refused once a period, with the addresses refused most', async () => {
    const lines: string[] = [];
    const note = refusalLog((l) => lines.push(l), 20);
    for (let i = 0; i < 5; i++) note('10.0.0.1', 'address');
    note('10.0.0.2', 'address');
    assert.deepEqual(lines, []);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(lines.length, 1);
    assert.match(lines[0], /^refused 6 connection\(s\) over the limits .*; most from 10\.0\.0\.1 \(5\), 10\.0\.0\.2 \(1\)$/);
  });
});
