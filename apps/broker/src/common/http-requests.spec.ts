import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pinoHttp, { type Options } from 'pino-http';
import { brokerLogging, methodLabel, routeLabel } from './http-requests';

describe('request labels', () => {
  it('names a request by the route template it took, never its path or query', () => {
    assert.equal(
      routeLabel({ route: { path: '/api/v1/domains/:domain/apps/:app' }, originalUrl: '/api/v1/domains/acme/apps/shop?wait=5' }),
      '/api/v1/domains/:domain/apps/:app',
    );
    assert.equal(routeLabel({ route: { path: '/:id' }, baseUrl: '/api/v1/things', originalUrl: '/api/v1/things/42' }), '/api/v1/things/:id');
  });

  it('puts every request no route took in one series, and git pushes in another', () => {
    assert.equal(routeLabel({ originalUrl: '/api/v1/no/such/thing' }), 'unmatched');
    assert.equal(routeLabel({ route: { path: '/api/v1/{*path}' }, originalUrl: '/api/v1/no/such/thing' }), 'unmatched');
    assert.equal(routeLabel({ originalUrl: `/${'x'.repeat(500)}` }), 'unmatched');
    assert.equal(routeLabel({ originalUrl: '/git/acme/shop.git/info/refs?service=git-receive-pack' }), '/git');
    assert.equal(routeLabel({ originalUrl: '/gitlab' }), 'unmatched');
    // The console's pages and assets are one series, whatever app a page names.
    assert.equal(routeLabel({ originalUrl: '/apps/acme/shop' }), '/console');
    assert.equal(routeLabel({ originalUrl: '/assets/index-abc123.js' }), '/console');
  });

  it('keeps methods to the standard ones', () => {
    assert.equal(methodLabel('GET'), 'GET');
    assert.equal(methodLabel('PROPFIND'), 'other');
    assert.equal(methodLabel('get'), 'other');
    assert.equal(methodLabel(undefined), 'other');
  });

  it("logs the route a request took on the request's own line, as it ends", async () => {
    const lines: Record<string, unknown>[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const log = pinoHttp(brokerLogging('info').pinoHttp as Options, stream);
    const server = createServer((req, res) => {
      log(req, res);
      // As Express sets it once a route takes the request.
      Object.assign(req as IncomingMessage & { route?: unknown }, { route: { path: '/api/v1/domains/:domain' } });
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      await new Promise<void>((resolve, reject) =>
        request({ port, path: '/api/v1/domains/acme?token=x' }, (res) => res.resume().on('end', resolve))
          .on('error', reject)
          .end(),
      );
      await new Promise((r) => setImmediate(r));
    } finally {
      server.close();
    }
    const line = lines.find((l) => l.route !== undefined);
    assert.equal(line?.route, '/api/v1/domains/:domain', JSON.stringify(lines));
    assert.match(String(line?.msg), /^GET \/api\/v1\/domains\/:domain 200 in \d+ ms$/);
    assert.doesNotMatch(JSON.stringify(lines), /acme|token/);
  });
});
