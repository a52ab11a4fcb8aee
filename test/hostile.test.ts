import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { eventually, Platform } from './support/platform';

/**
 * Nothing a request does takes the broker down. For every route of the broker's own OpenAPI document, generated
 * requests with wrong types, huge and deep bodies, wrong content types, odd unicode, path tricks and missing or bad
 * tokens, sent anonymously and as the admin: never a 5xx, every answer in the API's error shape, the broker alive
 * at the end and its resident memory within bounds. Each case these runs found is a named regression test below.
 */

interface Answer {
  status: number;
  body: string;
  json?: { statusCode?: number; code?: string; message?: string; details?: { pointer: string; rule: string }[] };
}

interface Route {
  method: string;
  path: string;
  params: string[];
  queries: string[];
  mediaTypes: string[];
  schema?: { properties?: Record<string, unknown> };
}

/**
 * Resident memory of the broker once idle after the runs; the issue saw 715 MB after hostile input. On Node.js 24, with
 * JSON logs and the metrics registry, it holds 160-180 MB after the generated requests and 230-240 MB after the error
 * explosions (a 60,000-item YAML body is parsed before its values are counted), and stays there when idle: V8 keeps
 * the pages it grew into. Its heap is capped at 128 MB by its flags, so the bound is that cap and what Node holds
 * beside it; past it, memory is held outside the heap.
 */
const RSS_LIMIT_MB = 300;

const DOMAIN = 'hostile';
const APP = 'web';

function send(port: number, method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method, path, headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) }, timeout: 60_000 },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          // An answer is small; keep at most 1 MB of one (a larger one would itself be a finding).
          size += c.length;
          if (size <= 1 << 20) chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Answer['json'];
          try {
            json = res.headers['content-type']?.includes('json') ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 60 s`)));
    // The broker may answer (415, 413, 401) before it has read what is sent, and then close: that is its right.
    req.on('error', (err: NodeJS.ErrnoException) =>
      err.code === 'EPIPE' || err.code === 'ECONNRESET' ? resolve({ status: -1, body: err.code }) : reject(err),
    );
    if (body) req.write(body);
    req.end();
  });
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** What a request did wrong, if anything, beyond being refused: a 5xx, a hang, or an error body out of shape. */
function problem(a: Answer): string | undefined {
  if (a.status === -1) return undefined;
  if (a.status >= 500) return `answered ${a.status}: ${a.body.slice(0, 500)}`;
  if (a.status >= 400 && a.json !== undefined) {
    if (a.json.statusCode !== a.status || typeof a.json.code !== 'string' || typeof a.json.message !== 'string')
      return `error body out of shape: ${a.body.slice(0, 500)}`;
  }
  if (a.body.length > 256 * 1024) return `an answer of ${a.body.length} bytes`;
  return undefined;
}

// ---- generators ------------------------------------------------------------------------------------------------

const TRICKY_SEGMENTS = [
  '..',
  '.',
  '%2e%2e',
  '%2E%2E%2F%2E%2E%2Fetc%2Fpasswd',
  '..%2f..%2f',
  '%5c..%5c',
  '%00',
  '%ff',
  '%',
  '%%',
  '%zz',
  '~',
  ';',
  'a;b=c',
  '%0d%0aX-Injected:%201',
  '%252e%252e',
  'null',
  'undefined',
  '0',
  '-1',
  '1e999',
  'NaN',
  '__proto__',
  'constructor',
  'CON',
  '%27%3B%20drop%20table%20apps%3B%20--',
  '00000000-0000-0000-0000-000000000000',
  'A'.repeat(4000),
  encodeURIComponent('ünïcødé'),
  encodeURIComponent('😀'),
  encodeURIComponent('\u202e\u0000\ufffe'),
  encodeURIComponent('Ａｄｍｉｎ'),
];

const segment = (fixture?: string) =>
  fc.oneof(
    fc.constantFrom(...TRICKY_SEGMENTS),
    fc.string({ maxLength: 40, unit: 'binary' }).map(encodeURIComponent),
    fc.uuid(),
    ...(fixture ? [fc.constant(fixture), fc.constant(fixture)] : []),
  );

const QUERY_VALUES = [
  '0',
  '1',
  '-1',
  'abc',
  '1e3',
  '601',
  '99999999999999999999',
  '',
  '%ff',
  'true',
  'false',
  '%00',
  '[]',
  encodeURIComponent('😀'),
  'x'.repeat(3000),
];

const CONTENT_TYPES = [
  'text/plain',
  'application/octet-stream',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=utf-16',
  'application/json; charset=bogus',
  'application/json;;;',
  'application/gzip',
  'text/yaml',
  'application/xml',
  'image/png',
  '*/*',
  'application/*',
  'json',
  ';',
  'application/json',
  'application/json',
  'application/json',
  'application/json',
  'APPLICATION/JSON',
  'application/json; charset=utf-8',
];

const odd = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.constantFrom(
    '\u0000',
    '\ud800',
    '\udfff',
    '\u202e',
    '\ufeff',
    '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
    'e\u0301',
    '../../etc/passwd',
    'file:///etc/passwd',
    '${HOME}',
    '$(id)',
    '`id`',
    '<script>',
    'a'.repeat(70_000),
  ),
);

const jsonBody = (v: unknown) => Buffer.from(JSON.stringify(v) ?? 'null');

/** Bodies: schema-shaped with wrong values, any JSON, huge, deep, many errors at once, bad bytes, YAML bombs. */
function bodies(route: Route): fc.Arbitrary<Buffer | undefined> {
  const keys = Object.keys(route.schema?.properties ?? {});
  const shaped = keys.length
    ? fc.dictionary(fc.oneof(fc.constantFrom(...keys), odd), fc.oneof(fc.jsonValue({ maxDepth: 3 }), odd, fc.constant(null)), { maxKeys: 6 }).map(jsonBody)
    : fc.jsonValue({ maxDepth: 3 }).map(jsonBody);
  return fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 1 },
    { arbitrary: shaped, weight: 4 },
    { arbitrary: fc.jsonValue({ maxDepth: 4 }).map(jsonBody), weight: 2 },
    { arbitrary: fc.integer({ min: 100_000, max: 600_000 }).map((n) => Buffer.from(`"${'x'.repeat(n)}"`)), weight: 1 },
    {
      arbitrary: fc.integer({ min: 10_000, max: 60_000 }).map((n) => jsonBody(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])))),
      weight: 1,
    },
    {
      arbitrary: fc.integer({ min: 10_000, max: 60_000 }).map((n) =>
        jsonBody({
          [keys[0] ?? 'name']: Array.from({ length: n }, (_, i) => i),
          cartridges: Array.from({ length: n }, () => 1),
          env: Object.fromEntries(Array.from({ length: Math.min(n, 5000) }, (_, i) => [`K${i}`, i])),
        }),
      ),
      weight: 1,
    },
    { arbitrary: fc.integer({ min: 33, max: 50_000 }).map((d) => Buffer.from(`${'['.repeat(d)}${']'.repeat(d)}`)), weight: 1 },
    { arbitrary: fc.integer({ min: 33, max: 20_000 }).map((d) => Buffer.from(`${'{"a":'.repeat(d)}1${'}'.repeat(d)}`)), weight: 1 },
    { arbitrary: fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from(a)), weight: 1 },
    { arbitrary: fc.constant(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])), weight: 1 },
    { arbitrary: fc.integer({ min: 5, max: 12 }).map(yamlBomb), weight: 1 },
    { arbitrary: fc.integer({ min: 100, max: 20_000 }).map((d) => Buffer.from(`${'['.repeat(d)}${']'.repeat(d)}\n`)), weight: 1 },
    // Many tags, anchors or closers on one long line: an error of the parser's each, which it placed in the line.
    {
      arbitrary: fc
        .tuple(fc.constantFrom('!!map ', '!x ', '&a ', '] ', '} '), fc.integer({ min: 1_000, max: 40_000 }))
        .map(([token, n]) => Buffer.from(`name: x\nenv: ${token.repeat(n)}{}\n`)),
      weight: 1,
    },
  );
}

/** "Billion laughs": each level an alias list of the one before. */
function yamlBomb(levels: number): Buffer {
  const lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < levels; i++) lines.push(`l${i}: &l${i} [${Array.from({ length: 9 }, () => `*l${i - 1}`).join(',')}]`);
  lines.push(`name: *l${levels - 1}`);
  return Buffer.from(lines.join('\n'));
}

let gzipBombCache: Buffer | undefined;
/** 200 MB of zeros in about 200 KB. */
const gzipBomb = () => (gzipBombCache ??= gzipSync(Buffer.alloc(200 * 1024 * 1024), { level: 9 }));

describe('hostile requests', { timeout: 1_200_000 }, () => {
  let p: Platform;
  let routes: Route[] = [];
  let pid = 0;

  before(async () => {
    // One address's share of connections, low enough for the test to pass it (1,024 by default).
    p = await Platform.start('hostile', undefined, { env: { GEARSHIFT_MAX_CONNECTIONS_PER_ADDRESS: '64' } });
    pid = p.broker!.child.pid!;
    assert.equal((await p.api('POST', '/domains', { name: DOMAIN })).status, 201);
    const created = await p.api('POST', `/domains/${DOMAIN}/apps?wait=120`, { name: APP, cartridges: ['static'] });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const doc = JSON.parse((await send(p.port, 'GET', '/api/docs-json', {})).body) as {
      paths: Record<
        string,
        Record<string, { parameters?: { in: string; name: string }[]; requestBody?: { content: Record<string, { schema?: Route['schema'] }> } }>
      >;
    };
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const content = op.requestBody?.content ?? {};
        routes.push({
          method: method.toUpperCase(),
          path,
          params: (op.parameters ?? []).filter((x) => x.in === 'path').map((x) => x.name),
          queries: (op.parameters ?? []).filter((x) => x.in === 'query').map((x) => x.name),
          mediaTypes: Object.keys(content),
          schema: Object.values(content)[0]?.schema,
        });
      }
    }
    routes = routes.filter((r) => r.path.startsWith('/api/v1/'));
    assert.ok(routes.length >= 40, `the OpenAPI document lists ${routes.length} routes`);
  });

  after(async () => {
    await p?.stop();
  });

  /** A generated request to `route`: its path filled with tricks (or the fixture, except to delete it). */
  function requests(route: Route, token: string | null) {
    const fixtures: Record<string, string | undefined> = { domain: DOMAIN, app: APP };
    const deletes = route.method === 'DELETE';
    const params = fc.tuple(...route.params.map((name) => segment(deletes ? undefined : fixtures[name])));
    const query = fc.dictionary(
      // follow=true would stream for as long as the app runs; wait is kept short so that a valid one ends soon.
      fc.constantFrom(...route.queries.filter((q) => q !== 'follow'), 'x', 'wait[a]', '__proto__'),
      fc.constantFrom(...QUERY_VALUES).filter((v) => v !== '1'),
      { maxKeys: 3 },
    );
    const auth = fc.oneof(
      fc.constant(token ? `Bearer ${token}` : undefined),
      fc.constant(token ? `Bearer ${token}` : undefined),
      fc.constantFrom(
        undefined,
        '',
        'Bearer',
        'Bearer ',
        'Bearer x',
        `Bearer ${'x'.repeat(6000)}`,
        'Basic YWRtaW46YWRtaW4=',
        'bearer gst_'.padEnd(40, 'A'),
        `Bearer ${encodeURIComponent('😀')}`,
      ),
    );
    const contentType = fc.oneof(fc.constantFrom(...route.mediaTypes, ...CONTENT_TYPES), fc.constant(undefined));
    return fc.record({
      params,
      query,
      auth,
      contentType,
      body: bodies(route),
      extra: fc.constantFrom<Record<string, string>>(
        {},
        { 'x-request-id': 'ü'.repeat(100) },
        { 'content-encoding': 'gzip' },
        { 'content-encoding': 'br, deflate' },
        { 'x-gearshift-source': 'git-push', 'x-gearshift-commit': '../../x' },
      ),
    });
  }

  async function run(route: Route, token: string | null, numRuns: number): Promise<void> {
    await fc.assert(
      fc.asyncProperty(requests(route, token), async (r) => {
        let path = route.path;
        route.params.forEach((name, i) => (path = path.replace(`{${name}}`, r.params[i])));
        const qs = Object.entries(r.query)
          .map(([k, v]) => `${k}=${v}`)
          .join('&');
        const headers: Record<string, string> = { ...r.extra };
        if (r.auth !== undefined) headers.authorization = r.auth;
        if (r.contentType !== undefined && r.body) headers['content-type'] = r.contentType;
        const answer = await send(p.port, route.method, `${path}${qs ? `?${qs}` : ''}`, headers, r.body);
        const wrong = problem(answer);
        assert.equal(
          wrong,
          undefined,
          `${route.method} ${path}${qs ? `?${qs}` : ''} (${headers['content-type'] ?? 'no type'}, ${r.body?.length ?? 0} bytes): ${wrong}`,
        );
        assert.ok(p.broker!.alive, `the broker died:\n${p.logs()}`);
        // A body of a type the route does not document is refused as such (once the caller is known).
        // (A URL with NUL characters is refused before any route is chosen.)
        const urlRefused = answer.status === 400 && (!answer.json || /URL/.test(answer.json.message ?? ''));
        if (r.body?.length && ![401, 403, 404, -1].includes(answer.status) && !urlRefused && route.mediaTypes.length > 0) {
          const type = (headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
          if (!route.mediaTypes.includes(type))
            assert.equal(answer.status, 415, `${route.method} ${route.path} with ${type || 'no type'}: ${answer.body.slice(0, 300)}`);
        }
      }),
      { numRuns },
    );
  }

  it('answers generated hostile requests to every route without a 5xx, anonymously and as the admin', async () => {
    for (const route of routes) {
      await run(route, null, 8);
      // Logging out revokes the token it comes with: that route is given a token of its own.
      const logout = route.path === '/api/v1/auth/logout';
      await run(route, logout ? (await p.api('POST', '/tokens', { name: 'logout', scopes: ['read'] })).body.token : p.token, 16);
    }
  });

  it('refuses a gzip bomb in the upload routes without holding it', async () => {
    console.log(`# broker resident memory after the generated requests: ${rssMb(pid).toFixed(0)} MB`);
    for (const path of [`/api/v1/domains/${DOMAIN}/apps/${APP}/deployments`, `/api/v1/domains/${DOMAIN}/apps/${APP}/snapshots/restore`]) {
      const a = await send(p.port, 'POST', path, { authorization: `Bearer ${p.token}`, 'content-type': 'application/gzip' }, gzipBomb());
      assert.equal(problem(a), undefined);
      assert.equal(a.status, 422, a.body);
    }
  });

  // ---- regressions: each a case that once hurt the broker -------------------------------------------------------

  it("holds one address's slow connections to its share, and answers another address meanwhile", async () => {
    // Each sends the start of a request's headers and nothing more, as a slow client does. 127.0.0.2 is loopback too.
    const sockets: Socket[] = [];
    let closed = 0;
    for (let i = 0; i < 300; i++) {
      const s = connect({ port: p.port, host: '127.0.0.1', localAddress: '127.0.0.2' });
      s.on('error', () => undefined);
      s.on('connect', () => s.write('GET /api/v1/cartridges HTTP/1.1\r\nHost: x\r\nX-a: '));
      s.on('close', () => closed++);
      sockets.push(s);
    }
    try {
      await eventually('the connections over the share to be closed', async () => closed >= 300 - 64, 10_000, 100);
      const other = await send(p.port, 'GET', '/api/v1/cartridges', { authorization: `Bearer ${p.token}` });
      assert.equal(other.status, 200, other.body);
      assert.equal(closed, 300 - 64, 'the 64 within the share stay open');
      assert.ok(p.broker!.alive, `the broker died:\n${p.logs()}`);
      await eventually(
        'the refusals to be logged',
        async () => /refused \d+ connection\(s\) over the limits .*127\.0\.0\.2/.test(p.broker!.output.join('\n')),
        15_000,
        250,
      );
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  it('refuses a YAML document of 40,000 tags on one node at once, and answers others meanwhile', async () => {
    // 240 KB, under the size limit: the parser's error for each tag, each placed in a copy of the line, froze the
    // broker for minutes and then took its heap.
    const bomb = Buffer.from(`name: x\nenv: ${'!!map '.repeat(40_000)}{}\n`);
    const started = Date.now();
    const [a, other] = await Promise.all([
      send(p.port, 'POST', `/api/v1/domains/${DOMAIN}/apply?dryRun=true`, { authorization: `Bearer ${p.token}`, 'content-type': 'text/yaml' }, bomb),
      send(p.port, 'GET', '/api/v1/cartridges', { authorization: `Bearer ${p.token}` }),
    ]);
    assert.equal(a.status, 422, a.body);
    assert.equal(a.json?.details?.[0]?.rule, 'yaml-tags', a.body);
    assert.equal(other.status, 200);
    console.log(`# a YAML document of 40,000 tags refused in ${Date.now() - started} ms`);
    assert.ok(p.broker!.alive, `the broker died:\n${p.logs()}`);
  });

  it('answers a Content-Encoding that does not decode with 400', async () => {
    console.log(`# broker resident memory after the gzip bombs: ${rssMb(pid).toFixed(0)} MB`);
    const a = await send(p.port, 'POST', '/api/v1/auth/login', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, Buffer.from('{}'));
    assert.equal(a.status, 400, a.body);
    assert.match(a.json!.message!, /could not be read/);
  });

  it('answers NUL characters in a path, a query or a JSON string with 400, not a database error', async () => {
    const auth = { authorization: `Bearer ${p.token}` };
    const path = await send(p.port, 'GET', '/api/v1/domains/%E2%80%AE%00%EF%BF%BE/apps/web/logs', auth);
    assert.equal(path.status, 400, path.body);
    assert.equal(path.json!.details![0].rule, 'no-nul');
    assert.equal((await send(p.port, 'GET', `/api/v1/domains/${DOMAIN}/apps?x=%00`, auth)).status, 400);
    const login = await send(
      p.port,
      'POST',
      '/api/v1/auth/login',
      { 'content-type': 'application/json' },
      jsonBody({ username: 'ad\u0000min', password: 'x' }),
    );
    assert.equal(login.status, 400, login.body);
    assert.deepEqual(login.json!.details, [{ pointer: '/username', rule: 'no-nul', message: 'must not contain NUL characters' }]);
    const undecodable = await send(p.port, 'POST', '/api/v1/domains/%/apps', { ...auth, 'content-type': 'application/json' }, Buffer.from('{}'));
    assert.equal(undecodable.status, 400, undecodable.body);
    assert.equal(undecodable.json!.details![0].rule, 'url-encoding');
  });

  it('refuses 20 MB of octet-stream to node registration with 415, unread', async () => {
    console.log(`# broker resident memory before the regressions: ${rssMb(pid).toFixed(0)} MB`);
    const a = await send(p.port, 'POST', '/api/v1/nodes/register', { 'content-type': 'application/octet-stream' }, Buffer.alloc(20 * 1024 * 1024));
    assert.ok(a.status === 415 || a.status === -1, `${a.status} ${a.body}`);
    if (a.status === 415) assert.match(a.json!.message!, /takes application\/json/);
    const json = await send(p.port, 'POST', '/api/v1/nodes/register', { 'content-type': 'application/json' }, Buffer.alloc(20 * 1024 * 1024, 0x20));
    assert.ok(json.status === 413 || json.status === -1, `${json.status} ${json.body}`);
    assert.ok(p.broker!.alive);
  });

  it('answers a body that breaks a rule thousands of times with 20 violations and a count', async () => {
    const auth = { authorization: `Bearer ${p.token}`, 'content-type': 'application/json' };
    const a = await send(
      p.port,
      'POST',
      '/api/v1/domains',
      auth,
      jsonBody({ name: 'x', ...Object.fromEntries(Array.from({ length: 9_000 }, (_, i) => [`k${i}`, 1])) }),
    );
    assert.equal(a.status, 400, a.body);
    assert.equal(a.json!.details!.length, 21);
    assert.deepEqual(a.json!.details!.at(-1), { pointer: '', rule: 'more', message: '8980 more problems are not listed' });
    // 100,000 bad items in 200 KB: refused by their number before ajv makes an error of each.
    const arrays = await send(
      p.port,
      'POST',
      `/api/v1/domains/${DOMAIN}/apps`,
      auth,
      jsonBody({ name: 'x', cartridges: Array.from({ length: 100_000 }, () => 1) }),
    );
    assert.equal(arrays.status, 400, arrays.body);
    assert.deepEqual(arrays.json!.details, [{ pointer: '', rule: 'max-values', message: 'holds more than 10000 values' }]);
    const yaml = await send(
      p.port,
      'POST',
      `/api/v1/domains/${DOMAIN}/apply?dryRun=true`,
      { ...auth, 'content-type': 'text/yaml' },
      Buffer.from(`name: x\ncartridges: [${Array.from({ length: 60_000 }, () => '1').join(',')}]\n`),
    );
    // Refused by counting its nodes, before the document is built.
    assert.equal(yaml.status, 422, yaml.body);
    assert.equal(yaml.json!.details![0].rule, 'yaml-nodes');
  });

  it('refuses a gearshift.yml of very many nodes or aliases with 422 before building it, and grows no memory for it', async () => {
    const auth = { authorization: `Bearer ${p.token}`, 'content-type': 'text/yaml' };
    const apply = `/api/v1/domains/${DOMAIN}/apply?dryRun=true`;
    // 120,000 items in 240 KB, under the body limit: building the document took about 230 MB.
    const items = Buffer.from(`name: x\ncartridges: [${Array.from({ length: 120_000 }, () => '1').join(',')}]\n`);
    const aliases = Buffer.from(`name: x\nl0: &l0 [a]\ncartridges: [${Array.from({ length: 40_000 }, () => '*l0').join(',')}]\n`);
    const before = rssMb(pid);
    for (let i = 0; i < 4; i++) {
      const a = await send(p.port, 'POST', apply, auth, items);
      assert.equal(a.status, 422, a.body);
      assert.deepEqual(a.json!.details![0].rule, 'yaml-nodes');
      const b = await send(p.port, 'POST', apply, auth, aliases);
      assert.equal(b.status, 422, b.body);
      assert.deepEqual(b.json!.details![0].rule, 'yaml-aliases');
    }
    const after = rssMb(pid);
    console.log(`# broker resident memory around the large YAML documents: ${before.toFixed(0)} MB, then ${after.toFixed(0)} MB`);
    assert.ok(after - before < 100, `the broker grew from ${before.toFixed(0)} to ${after.toFixed(0)} MB`);
  });

  it('refuses a docker-image cartridge whose image is a file:// URL, naming the field', async () => {
    console.log(`# broker resident memory after the error explosions: ${rssMb(pid).toFixed(0)} MB`);
    const a = await p.api('POST', `/domains/${DOMAIN}/apps`, { name: 'evil', cartridges: [{ name: 'docker-image', image: 'file:///etc/passwd', port: 80 }] });
    assert.equal(a.status, 400, JSON.stringify(a.body));
    assert.deepEqual(
      a.body.details.map((d: { pointer: string; rule: string }) => [d.pointer, d.rule]),
      [['/cartridges/0/image', 'format']],
    );
    const yaml = await send(
      p.port,
      'POST',
      `/api/v1/domains/${DOMAIN}/apply?dryRun=true`,
      { authorization: `Bearer ${p.token}`, 'content-type': 'text/yaml' },
      Buffer.from('name: evil\ncartridges:\n  - {name: docker-image, image: "https://example.com/x", port: 80}\n'),
    );
    assert.equal(yaml.status, 400, yaml.body);
    assert.ok(
      yaml.json!.details!.some((d) => d.pointer === '/cartridges/0/image' && d.rule === 'format'),
      yaml.body,
    );
  });

  it('is alive and within its memory bound after all of it', async () => {
    assert.ok(p.broker!.alive, p.logs());
    assert.equal((await p.api('GET', '/healthz')).status, 200);
    console.log(`# broker resident memory right after the hostile runs: ${rssMb(pid).toFixed(0)} MB`);
    // Garbage of the last requests is collected when the broker is idle; what stays must be under the bound.
    const rss = await eventually(
      `the broker's resident memory to fall below ${RSS_LIMIT_MB} MB`,
      async () => {
        const mb = rssMb(pid);
        return mb < RSS_LIMIT_MB ? mb : undefined;
      },
      120_000,
      1000,
    ).catch(() => rssMb(pid));
    console.log(`# broker resident memory once idle: ${rss.toFixed(0)} MB`);
    assert.ok(rss < RSS_LIMIT_MB, `the broker holds ${rss.toFixed(0)} MB`);
  });
});
