import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiClient, CliError, EXIT } from './client';

interface Seen {
  method: string;
  url: string;
  authorization?: string;
  type?: string;
  body: string;
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The client against a small broker stand-in that answers by path and remembers what it was sent. */
describe('ApiClient', () => {
  let server: Server;
  let base: string;
  let seen: Seen[] = [];

  before(async () => {
    server = createServer((req, res) => {
      bodyOf(req).then(
        (body) => {
          seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, type: req.headers['content-type'], body });
          const json = (status: number, value: unknown) => {
            res.writeHead(status, { 'content-type': 'application/json' });
            res.end(JSON.stringify(value));
          };
          switch (req.url) {
            case '/api/v1/domains':
              return json(200, [{ name: 'dev', createdAt: '2026-11-29T00:00:00.000Z' }]);
            case '/api/v1/echo':
              return json(202, { got: body });
            case '/api/v1/missing':
              return json(404, { statusCode: 404, code: 'not_found', message: 'app "nope" was not found', details: [] });
            case '/api/v1/bad':
              return json(400, {
                statusCode: 400,
                code: 'invalid',
                message: 'bad input',
                details: [{ pointer: '/cartridges/0', rule: 'catalogue', message: 'not in the catalogue' }],
              });
            case '/api/v1/login-needed':
              return json(401, { statusCode: 401, code: 'unauthorized', message: 'no token', details: [] });
            case '/api/v1/busy':
              return json(503, { statusCode: 503, code: 'no_capacity', message: 'no node has room', details: [] });
            case '/api/v1/broken':
              return json(500, { statusCode: 500, code: 'internal', message: 'internal error', details: [] });
            case '/api/v1/file':
              res.writeHead(200, { 'content-type': 'application/gzip', 'content-disposition': 'attachment; filename="shop-1.tar.gz"' });
              return res.end(Buffer.from([1, 2, 3]));
            case '/api/v1/stream':
              res.writeHead(200, { 'content-type': 'text/plain' });
              res.write('one\n');
              return setTimeout(() => res.end('two\n'), 20);
            default:
              return json(404, { message: `no route ${req.url}` });
          }
        },
        (err: Error) => res.destroy(err),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const refusal = async (promise: Promise<unknown>): Promise<CliError> => {
    const err = await promise.then(
      () => assert.fail('expected a refusal'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof CliError);
    return err;
  };

  it('reads JSON with the token, and sends JSON bodies', async () => {
    seen = [];
    const api = new ApiClient(`${base}/`, 'gst_abc');
    const domains = await api.get<{ name: string }[]>('/domains');
    assert.deepEqual(
      domains.map((d) => d.name),
      ['dev'],
    );
    assert.deepEqual(await api.post<{ got: string }>('/echo', { name: 'shop' }), { got: '{"name":"shop"}' });
    assert.deepEqual(
      seen.map((s) => [s.method, s.url, s.authorization, s.type]),
      [
        ['GET', '/api/v1/domains', 'Bearer gst_abc', undefined],
        ['POST', '/api/v1/echo', 'Bearer gst_abc', 'application/json'],
      ],
    );
  });

  it('sends no authorization header without a token', async () => {
    seen = [];
    await new ApiClient(base).get('/domains');
    assert.equal(seen[0].authorization, undefined);
  });

  it('uploads a document with its own content type', async () => {
    seen = [];
    const res = await new ApiClient(base, 't').upload<{ got: string }>('/echo', 'name: blog\n', 'text/yaml');
    assert.deepEqual(res, { got: 'name: blog\n' });
    assert.equal(seen[0].type, 'text/yaml');
  });

  it('turns refusals into exit code 3 with the message and every bad field as the broker gave it', async () => {
    const api = new ApiClient(base, 't');
    const missing = await refusal(api.get('/missing'));
    assert.equal(missing.exitCode, EXIT.refused);
    assert.equal(missing.message, 'app "nope" was not found');
    const bad = await refusal(api.post('/bad', {}));
    assert.equal(bad.exitCode, EXIT.refused);
    assert.deepEqual(bad.details, [{ pointer: '/cartridges/0', rule: 'catalogue', message: 'not in the catalogue' }]);
    const busy = await refusal(api.get('/busy'));
    assert.equal(busy.exitCode, EXIT.refused, 'no capacity is a refusal, not an outage');
  });

  it('says to log in on a 401, and treats a 500 like an unreachable broker', async () => {
    const api = new ApiClient(base, 't');
    const unauthorized = await refusal(api.get('/login-needed'));
    assert.equal(unauthorized.exitCode, EXIT.refused);
    assert.equal(unauthorized.message, 'no token (run: gearshift login)');
    const broken = await refusal(api.get('/broken'));
    assert.equal(broken.exitCode, EXIT.unreachable);
  });

  it('exits 4 when nothing answers', async () => {
    const err = await refusal(new ApiClient('http://127.0.0.1:1').get('/domains'));
    assert.equal(err.exitCode, EXIT.unreachable);
    assert.match(err.message, /^cannot reach the broker at http:\/\/127\.0\.0\.1:1 .*is it running\?/);
  });

  it('downloads a file with the name the broker suggests, and streams text as it comes', async () => {
    const api = new ApiClient(base, 't');
    const { data, filename } = await api.download('POST', '/file');
    assert.deepEqual([...data], [1, 2, 3]);
    assert.equal(filename, 'shop-1.tar.gz');
    let text = '';
    for await (const chunk of api.stream('/stream')) text += chunk;
    assert.equal(text, 'one\ntwo\n');
    const err = await refusal(
      (async () => {
        for await (const chunk of api.stream('/missing')) assert.fail(`streamed ${chunk}`);
      })(),
    );
    assert.equal(err.exitCode, EXIT.refused);
  });
});
