import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describeCall, namedRoutes, outcomeOf, safeUrl, UNAUDITED, type AuditedCall } from './actions';
import { parseAuditQuery } from './query';
import { GearshiftError } from '../common/errors';

const call = (
  method: string,
  route: string,
  params: Record<string, string> = {},
  body: unknown = undefined,
  extra: Partial<AuditedCall> = {},
): AuditedCall => ({
  method,
  route,
  params,
  query: {},
  body,
  headers: {},
  ...extra,
});
const shop = { domain: 'shop', app: 'web' };

describe('audit actions', () => {
  it('names each change with a stable dotted action and the thing it was aimed at', () => {
    assert.deepEqual(describeCall(call('POST', '/domains', {}, { name: 'shop' }), 201), {
      action: 'domain.create',
      target: 'shop',
      domain: 'shop',
      details: {},
    });
    assert.deepEqual(describeCall(call('POST', '/domains/:domain/apps', { domain: 'shop' }, { name: 'web', cartridges: [] }), 201), {
      action: 'app.create',
      target: 'shop/web',
      domain: 'shop',
      details: { cartridges: [] },
    });
    assert.deepEqual(describeCall(call('POST', '/domains/:domain/apps/:app/run', shop, { command: ['rake', 'db:migrate'], process: 'worker' }), 200), {
      action: 'app.run',
      target: 'shop/web',
      domain: 'shop',
      details: { command: ['rake', 'db:migrate'], process: 'worker' },
    });
    assert.deepEqual(describeCall(call('PUT', '/domains/:domain/apps/:app/scale', shop, { replicas: 3 }), 202), {
      action: 'app.scale',
      target: 'shop/web',
      domain: 'shop',
      details: { replicas: 3 },
    });
    assert.equal(describeCall(call('POST', '/domains/:domain/apps/:app/actions', shop, { action: 'restart' }), 202)?.action, 'app.restart');
    assert.equal(describeCall(call('POST', '/domains/:domain/apps/:app/actions', shop, { action: 'Drop Table' }), 400)?.action, 'app.action');
    assert.equal(describeCall(call('DELETE', '/domains/:domain/apps/:app', shop), 202)?.action, 'app.delete');
    assert.deepEqual(describeCall(call('DELETE', '/users/:username', { username: 'bob' }), 204), {
      action: 'user.delete',
      target: 'bob',
      domain: null,
      details: {},
    });
    assert.deepEqual(describeCall(call('POST', '/nodes/:id/drain', { id: 'n1' }), 200)?.target, 'n1');
    assert.equal(describeCall(call('POST', '/operations/:id/cancel', { id: 'op' }), 200)?.action, 'operation.cancel');
  });

  it('tells a failed login from one that worked, by the answer', () => {
    assert.equal(describeCall(call('POST', '/auth/login', {}, { username: 'ann', password: 'pw' }), 200)?.action, 'session.login');
    const failed = describeCall(call('POST', '/auth/login', {}, { username: 'ann', password: 'hunter2-hunter2' }), 401);
    assert.deepEqual(failed, { action: 'session.login_failed', target: 'ann', domain: null, details: {} });
    assert.equal(describeCall(call('POST', '/auth/login', {}, { username: 'ann' }), 429)?.action, 'session.login_failed');
  });

  it('keeps the names of environment variables, never their values', () => {
    const set = describeCall(call('PATCH', '/domains/:domain/apps/:app/env', shop, { API_KEY: 'canary-value', OLD: null }), 202)!;
    assert.equal(set.action, 'env.set');
    assert.deepEqual(set.details, { set: ['API_KEY'], unset: ['OLD'] });
    assert.equal(describeCall(call('PATCH', '/domains/:domain/apps/:app/env', shop, { OLD: null }), 202)?.action, 'env.unset');
    assert.deepEqual(describeCall(call('DELETE', '/domains/:domain/apps/:app/env/:name', { ...shop, name: 'OLD' }), 202)?.details, { unset: ['OLD'] });
    const created = describeCall(
      call('POST', '/domains/:domain/apps', { domain: 'shop' }, { name: 'web', cartridges: ['nodejs-20'], env: { SECRET: 'canary-value' } }),
      202,
    )!;
    assert.deepEqual(created.details, { cartridges: ['nodejs-20'], env: ['SECRET'] });
  });

  it('keeps no password, token, certificate or key, whatever the body holds', () => {
    const bodies: [string, string, Record<string, string>, unknown][] = [
      ['POST', '/users', {}, { username: 'bob', password: 'canary-value', admin: true }],
      ['PATCH', '/users/:username', { username: 'bob' }, { password: 'canary-value' }],
      ['PUT', '/users/me/password', {}, { current: 'canary-value', password: 'canary-value' }],
      ['POST', '/auth/login', {}, { username: 'bob', password: 'canary-value' }],
      ['POST', '/tokens', {}, { name: 'ci', scopes: ['deploy'], token: 'canary-value' }],
      ['POST', '/domains/:domain/apps/:app/aliases', shop, { host: 'www.example.com', certificate: 'canary-value', key: 'canary-value' }],
      ['POST', '/domains/:domain/apps/:app/deployments', shop, { git: { url: 'https://bob:canary-value@git.example.com/r.git?t=canary-value', ref: 'main' } }],
      ['PATCH', '/domains/:domain/apps/:app', shop, { env: { A: 'canary-value' }, size: 'canary-value' }],
      ['POST', '/nodes/register', {}, { name: 'n1', joinToken: 'canary-value', key: 'canary-value' }],
    ];
    for (const [method, route, params, body] of bodies) {
      const d = describeCall(call(method, route, params, body), 200);
      assert.ok(d, `${method} ${route}`);
      assert.ok(!JSON.stringify(d).includes('canary-value'), `${method} ${route} kept a secret: ${JSON.stringify(d)}`);
    }
    assert.equal(describeCall(call('PATCH', '/users/:username', { username: 'bob' }, { password: 'x' }), 204)?.action, 'user.password');
    assert.deepEqual(describeCall(call('POST', '/tokens', {}, { name: 'ci', scopes: ['deploy'], expiresInDays: 7 }), 201)?.details, {
      scopes: ['deploy'],
      expiresInDays: 7,
    });
    const cert = describeCall(call('POST', '/domains/:domain/apps/:app/aliases', shop, { host: 'www.example.com', certificate: 'c', key: 'k' }), 201)!;
    assert.deepEqual([cert.action, cert.details], ['certificate.set', { host: 'www.example.com', certificate: true }]);
    assert.equal(describeCall(call('POST', '/domains/:domain/apps/:app/aliases', shop, { host: 'www.example.com' }), 201)?.action, 'alias.add');
  });

  it('says where a deployment came from', () => {
    const route = '/domains/:domain/apps/:app/deployments';
    const archive = Buffer.from('gzip');
    assert.deepEqual(describeCall(call('POST', route, shop, archive), 202)?.details, { source: 'archive' });
    const push = call('POST', route, shop, archive, { headers: { 'x-gearshift-source': 'git-push', 'x-gearshift-commit': 'abc1234' } });
    assert.deepEqual(describeCall(push, 202)?.details, { source: 'git', commit: 'abc1234' });
    assert.deepEqual(describeCall(call('POST', route, shop, { git: { url: 'https://u:p@example.com/a.git', ref: 'main' } }), 202)?.details, {
      source: 'git-url',
      url: 'https://example.com/a.git',
      ref: 'main',
    });
    assert.equal(safeUrl('not a url'), undefined);
    // An upload refused before it was read (413) is still an upload.
    assert.deepEqual(describeCall(call('POST', route, shop, undefined), 413)?.details, { source: 'archive' });
  });

  it('records no read, leaves out a node handing over a snapshot, and names a route it does not know', () => {
    assert.equal(describeCall(call('GET', '/domains/:domain', { domain: 'shop' }), 200), null);
    assert.equal(describeCall(call('PUT', '/snapshots/:op', { op: 'x' }), 204), null);
    assert.deepEqual(describeCall(call('POST', '/widgets/:domain', { domain: 'shop' }, { secret: 'canary-value' }), 201), {
      action: 'widget.create',
      target: 'shop',
      domain: 'shop',
      details: {},
    });
  });

  it('drops NUL characters, which Postgres refuses, from what it keeps', () => {
    const d = describeCall(call('POST', '/domains/:domain/apps/:app/aliases', shop, { host: 'a\0b' }), 400)!;
    const e = describeCall(call('PATCH', '/domains/:domain/apps/:app/env', shop, { 'A\0B': 'x' }), 400)!;
    assert.ok(!JSON.stringify([d, e]).includes('\\u0000'), JSON.stringify([d, e]));
    assert.equal(d.details.host, 'ab');
    const login = describeCall(call('POST', '/auth/login', {}, { username: 'an\0n' }), 400)!;
    assert.equal(login.target, 'ann');
  });

  it('reads an answer as ok, refused or failed', () => {
    assert.deepEqual([200, 202, 204, 400, 404, 422, 429, 500, 503].map(outcomeOf), [
      'ok',
      'ok',
      'ok',
      'refused',
      'refused',
      'refused',
      'refused',
      'failed',
      'failed',
    ]);
  });

  it('names a database upgrade, its confirmation and its abort, with the cartridges', () => {
    const call = (body: unknown) => ({
      method: 'POST',
      route: '/domains/:domain/apps/:app/cartridges/:cartridge/upgrade',
      params: { domain: 'dev', app: 'shop', cartridge: 'postgresql-15' },
      query: {},
      body,
      headers: {},
    });
    assert.deepEqual(
      [{ to: 'postgresql-17' }, { confirm: true }, { abort: true }].map((b) => {
        const d = describeCall(call(b), 202)!;
        return [d.action, d.details];
      }),
      [
        ['cartridge.upgrade', { cartridge: 'postgresql-15', to: 'postgresql-17' }],
        ['cartridge.upgrade.confirm', { cartridge: 'postgresql-15' }],
        ['cartridge.upgrade.abort', { cartridge: 'postgresql-15' }],
      ],
    );
  });

  it('has a name for every changing route of the broker', () => {
    // Read from the controllers' decorators, as rooms.spec.ts reads imports: a new route must be named here.
    const root = join(__dirname, '..', '..', '..', '..', '..', 'apps', 'broker', 'src');
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : n.endsWith('.controller.ts') ? [join(dir, n)] : []));
    const routes: string[] = [];
    for (const file of files(root)) {
      const text = readFileSync(file, 'utf8');
      const prefix = /@Controller\(\s*(?:'([^']*)')?\s*\)/.exec(text)?.[1] ?? '';
      for (const m of text.matchAll(/@(Post|Put|Patch|Delete)\(\s*(?:'([^']*)')?\s*\)/g)) {
        routes.push(`${m[1].toUpperCase()} ${`/${[prefix, m[2] ?? ''].filter(Boolean).join('/')}`.replace(/\/$/, '') || '/'}`);
      }
    }
    assert.ok(routes.length >= 30, `found only ${routes.length} changing routes`);
    const named = new Set([...namedRoutes(), ...UNAUDITED]);
    assert.deepEqual(
      routes.filter((r) => !named.has(r)),
      [],
    );
  });
});

describe('audit query', () => {
  const now = Date.parse('2026-11-29T12:00:00Z');
  const rejects = (q: Record<string, unknown>, pointer: string) =>
    assert.throws(
      () => parseAuditQuery(q, now),
      (e: unknown) => e instanceof GearshiftError && e.code === 'invalid_input' && JSON.stringify(e.details).includes(pointer),
    );

  it('reads times ago, dates, filters and a limit', () => {
    assert.deepEqual(parseAuditQuery({}, now), { since: undefined, until: undefined, username: undefined, domain: undefined, action: undefined, limit: 100 });
    const q = parseAuditQuery({ since: '1h', until: '2026-11-29T11:30:00Z', user: 'ann', domain: 'shop', action: 'app.scale', limit: '500' }, now);
    assert.equal(q.since?.toISOString(), '2026-11-29T11:00:00.000Z');
    assert.equal(q.until?.toISOString(), '2026-11-29T11:30:00.000Z');
    assert.deepEqual([q.username, q.domain, q.action, q.limit], ['ann', 'shop', 'app.scale', 500]);
    assert.equal(parseAuditQuery({ action: 'session' }, now).action, 'session');
  });

  it('refuses a bad parameter with a 400 that names it', () => {
    rejects({ limit: '0' }, '?limit');
    rejects({ limit: '501' }, '?limit');
    rejects({ limit: 'ten' }, '?limit');
    rejects({ since: 'yesterday' }, '?since');
    rejects({ until: '2026-13-45' }, '?until');
    rejects({ since: '1h', until: '2h' }, '?until');
    rejects({ user: 'Robert; drop' }, '?user');
    rejects({ domain: 'a/b' }, '?domain');
    rejects({ action: "app.scale' or 1=1" }, '?action');
    rejects({ limit: ['1', '2'] }, '?limit');
  });
});
