import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { httpProbe, statusPasses, tcpProbe, waitHealthy, waitSettled, type ContainerLook, type ProbeFailure } from './health';

/** A port that nothing listens on: bound, then closed again. */
async function freePort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('health checks', () => {
  let server: Server;
  let port: number;
  before(async () => {
    // An app with no health route: its root fails, /ready answers 200.
    server = createServer((req, res) => {
      res.statusCode = req.url === '/ready' ? 200 : req.url === '/' ? 500 : 404;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => server.close());

  it('counts any status as up for "any", exactly the status when one is named, and below 400 by default', () => {
    assert.equal(statusPasses(404, 'any'), true);
    assert.equal(statusPasses(500, 'any'), true);
    assert.equal(statusPasses(200, 200), true);
    assert.equal(statusPasses(204, 200), false);
    assert.equal(statusPasses(302, undefined), true);
    assert.equal(statusPasses(404, undefined), false);
  });

  it('passes an app that answers 404 and 500 when any answer counts', async () => {
    assert.equal(await httpProbe({ host: '127.0.0.1', port, path: '/health', status: 'any' })(), null);
    assert.equal(await httpProbe({ host: '127.0.0.1', port, path: '/', status: 'any' })(), null);
  });

  it('leaves no listener behind on a connection kept alive between probes', async () => {
    const sockets = new Set<unknown>();
    server.on('connection', (s) => sockets.add(s));
    const warnings: Error[] = [];
    const warned = (w: Error) => warnings.push(w);
    process.on('warning', warned);
    try {
      for (let i = 0; i < 15; i++) assert.equal(await httpProbe({ host: '127.0.0.1', port, path: '/ready', status: 200 })(), null);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', warned);
    }
    assert.ok(sockets.size < 15, 'the probes shared a connection');
    assert.deepEqual(
      warnings.filter((w) => w.name === 'MaxListenersExceededWarning'),
      [],
    );
  });

  it('holds a named path to its status, and says what it got', async () => {
    assert.equal(await httpProbe({ host: '127.0.0.1', port, path: '/ready', status: 200 })(), null);
    assert.deepEqual(await httpProbe({ host: '127.0.0.1', port, path: '/', status: 200 })(), {
      message: 'GET / answered 500, expected status 200',
      refused: false,
    });
    assert.deepEqual(await httpProbe({ host: '127.0.0.1', port, path: '/health' })(), {
      message: 'GET /health answered 404, expected a status below 400',
      refused: false,
    });
  });

  it('tells a port nobody listens on from an app that answers wrongly', async () => {
    const closed = await freePort();
    const http = await httpProbe({ host: '127.0.0.1', port: closed, path: '/', status: 'any' })();
    assert.equal(http?.refused, true);
    const tcp = await tcpProbe('127.0.0.1', closed)();
    assert.equal(tcp?.refused, true);
    assert.equal(await tcpProbe('127.0.0.1', port)(), null);
  });

  it("does not take Docker's port proxy for a listener: a connection closed at once through it fails", async () => {
    // What the proxy does on a published port when nothing listens in the container: accept, then close.
    const proxy = createTcpServer((socket) => socket.destroy());
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const proxied = (proxy.address() as AddressInfo).port;
    try {
      const failed = await tcpProbe('127.0.0.1', proxied, true)();
      assert.equal(failed?.refused, true);
      assert.match(failed!.message, /closed at once/);
      // A listener that keeps the connection open passes through the proxy too.
      assert.equal(await tcpProbe('127.0.0.1', port, true)(), null);
    } finally {
      proxy.close();
    }
  });

  it('says plainly that nothing listened when no probe ever connected', async () => {
    const refused: ProbeFailure = { message: 'GET /: connect ECONNREFUSED', refused: true };
    await assert.rejects(
      waitHealthy({
        health: { kind: 'http', port: 8080, path: '/', status: 'any', timeoutSeconds: 0 },
        probe: async () => refused,
        alive: async () => null,
        intervalMs: 1,
      }),
      { message: 'nothing listened on 8080 within 0 s' },
    );
    await assert.rejects(
      waitHealthy({ health: { kind: 'tcp', port: 3000, timeoutSeconds: 0 }, probe: async () => refused, alive: async () => null, intervalMs: 1 }),
      { message: 'nothing listened on 3000 within 0 s' },
    );
  });

  it('reports the last answer of a gear that listened but never passed', async () => {
    const wrong: ProbeFailure = { message: 'GET /ready answered 503, expected status 200', refused: false };
    await assert.rejects(
      waitHealthy({
        health: { kind: 'http', port: 8080, path: '/ready', status: 200, timeoutSeconds: 0 },
        probe: async () => wrong,
        alive: async () => null,
        intervalMs: 1,
      }),
      { message: 'did not pass its health check within 0 s (last: GET /ready answered 503, expected status 200)' },
    );
  });

  it('gives up at once on a gear whose container stopped', async () => {
    await assert.rejects(
      waitHealthy({
        health: { kind: 'http', port: 8080, path: '/', status: 'any', timeoutSeconds: 600 },
        probe: async () => ({ message: 'refused', refused: true }),
        alive: async () => 'stopped with exit code 1 before it passed its health check',
        intervalMs: 1,
      }),
      { message: 'stopped with exit code 1 before it passed its health check' },
    );
  });

  it('returns as soon as a probe passes', async () => {
    let calls = 0;
    const ms = await waitHealthy({
      health: { kind: 'tcp', port: 1, timeoutSeconds: 600 },
      probe: async () => (++calls < 3 ? { message: 'x', refused: true } : null),
      alive: async () => null,
      intervalMs: 1,
    });
    assert.equal(calls, 3);
    assert.ok(ms >= 0);
  });
});

describe('a worker settles', () => {
  const looks = (...seq: ContainerLook[]) => {
    let i = 0;
    return async () => seq[Math.min(i++, seq.length - 1)];
  };
  const running = (restartCount = 0): ContainerLook => ({ state: 'running', exitCode: 0, restartCount });

  it('once it kept running for the settle time', async () => {
    const ms = await waitSettled({ settleMs: 60, intervalMs: 10, look: looks(running()) });
    assert.ok(ms >= 60);
  });

  it('at once when it has run for longer than that already: the time since Docker started it counts', async () => {
    const t0 = Date.now();
    const ms = await waitSettled({ settleMs: 3000, intervalMs: 10, look: looks({ ...running(), startedAt: t0 - 60_000 }) });
    assert.ok(ms >= 60_000, `counted from its start: ${ms} ms`);
    assert.ok(Date.now() - t0 < 1000, 'without waiting the settle time again');
  });

  it('from the first look when the engine says it started later than that (another clock)', async () => {
    const t0 = Date.now();
    await waitSettled({ settleMs: 80, intervalMs: 10, look: looks({ ...running(), startedAt: t0 + 60_000 }) });
    assert.ok(Date.now() - t0 >= 80);
  });

  it('not when it crashes at start and Docker restarts it: running at each look, but restarted', async () => {
    await assert.rejects(
      waitSettled({ settleMs: 200, intervalMs: 10, look: looks(running(0), running(0), running(1)) }),
      /did not keep running for 0.2 s: it exited and was restarted 1 time\(s\)/,
    );
  });

  it('not when it is seen between two restarts, or exited', async () => {
    await assert.rejects(
      waitSettled({ settleMs: 200, intervalMs: 10, look: looks(running(), { state: 'restarting', exitCode: 1, restartCount: 1 }) }),
      /it is restarting \(last exit code 1\)/,
    );
    await assert.rejects(waitSettled({ settleMs: 200, intervalMs: 10, look: looks({ state: 'exited', exitCode: 1, restartCount: 0 }) }), /it is exited/);
  });
});
