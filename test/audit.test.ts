import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, Platform, runCli, type ApiResponse } from './support/platform';

interface Event {
  user: string | null;
  token: { id: string; kind: string | null; name: string | null } | null;
  address: string | null;
  action: string;
  target: string | null;
  domain: string | null;
  status: number;
  outcome: string;
  operationId: string | null;
  details: Record<string, unknown>;
}

/**
 * The audit log as its readers meet it: a user's changes, refused ones and failed logins included, each show with
 * who, from where, what, on what and how it ended; no value of a secret is kept; and a user reads their own and
 * their domains' events, never another user's.
 */
describe('audit log', { timeout: 600_000 }, () => {
  let p: Platform;
  let home: string;
  // Loopback is all of 127.0.0.0/8: ann's calls come from an address of their own, so that it can be told apart.
  const ANN_ADDRESS = '127.0.0.9';
  const ANN_PASSWORD = 'ann password canary-1';
  const BOB_PASSWORD = 'bob password canary-2';
  const CANARY = 'env-value-canary-3c1f';
  let annToken = '';
  let bobToken = '';

  /** A call from ann's address. */
  function call(method: string, path: string, body?: unknown, token: string | null = annToken): Promise<ApiResponse> {
    return new Promise((resolve, reject) => {
      const text = body === undefined ? '' : JSON.stringify(body);
      const req = request(
        {
          host: '127.0.0.1',
          port: p.port,
          localAddress: ANN_ADDRESS,
          method,
          path: `/api/v1${path}`,
          headers: {
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }),
          },
        },
        (res) => {
          let out = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (out += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: out ? JSON.parse(out) : null }));
        },
      );
      req.on('error', reject);
      req.end(text);
    });
  }

  async function audit(token: string, query = ''): Promise<Event[]> {
    const res = await p.api<Event[]>('GET', `/audit${query}`, undefined, token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  }

  /** Waits for the event the check finds: events are written just after the answer. */
  const eventFor = (token: string, what: string, check: (e: Event) => boolean) =>
    eventually(`the audit log to show ${what}`, async () => (await audit(token)).find(check), 10_000, 100);

  before(async () => {
    // No node: nothing here needs a gear to run.
    p = await Platform.start('audit', {});
    home = mkdtempSync(join(tmpdir(), 'gearshift-audit-'));
    for (const [username, password] of [
      ['ann', ANN_PASSWORD],
      ['bob', BOB_PASSWORD],
    ]) {
      assert.equal((await p.api('POST', '/users', { username, password })).status, 201);
    }
    const bob = await p.api('POST', '/auth/login', { username: 'bob', password: BOB_PASSWORD }, null);
    bobToken = bob.body.token;
  });
  after(async () => {
    rmSync(home, { recursive: true, force: true });
    await p?.stop();
  });

  it("shows each of a user's changes with its user, address, action, target and outcome", async () => {
    const failed = await call('POST', '/auth/login', { username: 'ann', password: 'not the password' }, null);
    assert.equal(failed.status, 401);
    const login = await call('POST', '/auth/login', { username: 'ann', password: ANN_PASSWORD }, null);
    assert.equal(login.status, 200);
    annToken = login.body.token;

    const token = await call('POST', '/tokens', { name: 'ci', scopes: ['read'] });
    assert.equal(token.status, 201, JSON.stringify(token.body));
    // A read token is refused a change: the refusal is ann's, with the token she used.
    const scoped = await call('POST', '/domains', { name: 'other' }, token.body.token);
    assert.equal(scoped.status, 403);
    assert.equal((await call('DELETE', `/tokens/${token.body.id}`)).status, 204);
    assert.equal((await call('POST', '/domains', { name: 'shop' })).status, 201);
    const app = await call('POST', '/domains/shop/apps', { name: 'web', cartridges: [], env: { DB_PASSWORD: CANARY } });
    assert.ok([201, 202].includes(app.status), JSON.stringify(app.body));
    // An app with no cartridge yet takes no variables by themselves (422): the attempt is recorded all the same.
    const env = await call('PATCH', '/domains/shop/apps/web/env?wait=30', { API_KEY: CANARY, OLD: null });
    assert.ok(env.status < 500, JSON.stringify(env.body));
    assert.equal((await call('POST', '/domains/shop/apps/web/aliases', { host: 'www.audit-example.com' })).status, 201);
    const scale = await call('PUT', '/domains/shop/apps/web/scale', { replicas: 2 });
    const missing = await call('PUT', '/domains/nowhere/apps/web/scale', { replicas: 2 });
    assert.equal(missing.status, 404);
    const unfit = await call('POST', '/domains/shop/apps/web/aliases', { host: '127.0.0.1' });
    assert.equal(unfit.status, 422, JSON.stringify(unfit.body));
    const removed = await call('DELETE', '/domains/shop/apps/web?wait=30');
    assert.ok([200, 202, 204].includes(removed.status), JSON.stringify(removed.body));

    const mine =
      (action: string, more: (e: Event) => boolean = () => true) =>
      (e: Event) =>
        e.action === action && e.user === 'ann' && more(e);
    const failedLogin = await eventFor(annToken, 'the failed login', mine('session.login_failed'));
    assert.deepEqual([failedLogin.address, failedLogin.target, failedLogin.status, failedLogin.outcome], [ANN_ADDRESS, 'ann', 401, 'refused']);
    const okLogin = await eventFor(annToken, 'the login', mine('session.login'));
    assert.deepEqual([okLogin.address, okLogin.status, okLogin.outcome], [ANN_ADDRESS, 200, 'ok']);
    const created = await eventFor(annToken, 'the token made', mine('token.create'));
    assert.deepEqual([created.target, created.details, created.token?.kind], ['ci', { scopes: ['read'] }, 'login']);
    const refused = await eventFor(
      annToken,
      'the refused scope',
      mine('domain.create', (e) => e.status === 403),
    );
    assert.deepEqual([refused.outcome, refused.token?.kind, refused.token?.name, refused.details.error], ['refused', 'personal', 'ci', 'insufficient_scope']);
    const revoked = await eventFor(annToken, 'the token revoked', mine('token.revoke'));
    assert.deepEqual([revoked.target, revoked.outcome], [token.body.id, 'ok']);
    const domain = await eventFor(
      annToken,
      'the domain made',
      mine('domain.create', (e) => e.status === 201),
    );
    assert.deepEqual([domain.target, domain.domain, domain.address], ['shop', 'shop', ANN_ADDRESS]);
    const made = await eventFor(annToken, 'the app made', mine('app.create'));
    assert.deepEqual([made.target, made.outcome, made.details], ['shop/web', 'ok', { cartridges: [], env: ['DB_PASSWORD'] }]);
    assert.equal(made.operationId, app.body.operation?.id ?? null);
    const envSet = await eventFor(annToken, 'the env set', mine('env.set'));
    assert.deepEqual([envSet.target, envSet.status, envSet.outcome], ['shop/web', env.status, env.status < 400 ? 'ok' : 'refused']);
    assert.deepEqual(envSet.details, { set: ['API_KEY'], unset: ['OLD'], ...(env.status >= 400 ? { error: env.body.code } : {}) });
    const alias = await eventFor(
      annToken,
      'the alias added',
      mine('alias.add', (e) => e.status === 201),
    );
    assert.deepEqual([alias.target, alias.details], ['shop/web', { host: 'www.audit-example.com' }]);
    const scaled = await eventFor(
      annToken,
      'the scale',
      mine('app.scale', (e) => e.domain === 'shop'),
    );
    // Without a web cartridge there is nothing to scale (422): recorded as refused, with what was asked.
    assert.deepEqual(
      [scaled.target, scaled.status, scaled.outcome, scaled.details.replicas],
      ['shop/web', scale.status, scale.status < 400 ? 'ok' : 'refused', 2],
    );
    const notFound = await eventFor(
      annToken,
      'the scale of a missing app',
      mine('app.scale', (e) => e.domain === 'nowhere'),
    );
    assert.deepEqual([notFound.status, notFound.outcome, notFound.details.error], [404, 'refused', 'not_found']);
    const badHost = await eventFor(
      annToken,
      'the refused alias',
      mine('alias.add', (e) => e.status === 422),
    );
    assert.deepEqual([badHost.outcome, badHost.details.host], ['refused', '127.0.0.1']);
    const deleted = await eventFor(annToken, 'the app deleted', mine('app.delete'));
    assert.deepEqual([deleted.target, deleted.status, deleted.outcome], ['shop/web', removed.status, 'ok']);

    // The administrator made the users: their events, which ann does not see, and the administrator does.
    const admins = await eventFor(p.token, 'the users made', (e) => e.action === 'user.create' && e.target === 'bob');
    assert.deepEqual([admins.user, admins.outcome, admins.details], ['admin', 'ok', {}]);
    assert.ok(!(await audit(annToken)).some((e) => e.user === 'admin'), 'ann sees the administrator’s events');
  });

  it('records a git push the git backend refuses as a deployment from git', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: p.port,
          localAddress: ANN_ADDRESS,
          path: '/git/shop/ghost.git/info/refs?service=git-receive-pack',
          headers: { authorization: `Basic ${Buffer.from(`git:${annToken}`).toString('base64')}` },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 404);
    const push = await eventFor(annToken, 'the refused push', (e) => e.action === 'deployment.create' && e.target === 'shop/ghost');
    assert.deepEqual(
      [push.user, push.address, push.domain, push.status, push.outcome, push.details],
      ['ann', ANN_ADDRESS, 'shop', 404, 'refused', { source: 'git', error: 'not_found' }],
    );
  });

  it('keeps no secret: neither the value of an environment variable nor a password nor a token', async () => {
    const text = JSON.stringify([await audit(p.token, '?limit=500'), await audit(annToken, '?limit=500')]);
    assert.ok(text.includes('API_KEY'));
    for (const secret of [CANARY, ANN_PASSWORD, BOB_PASSWORD, 'not the password', p.adminPassword, annToken, bobToken]) {
      assert.ok(!text.includes(secret), `the audit log holds a secret: ${secret.slice(0, 6)}…`);
    }
  });

  it("shows a second user none of the first user's events", async () => {
    const bobs = await audit(bobToken, '?limit=500');
    assert.deepEqual(
      bobs.filter((e) => e.user !== 'bob'),
      [],
    );
    assert.ok(!bobs.some((e) => e.domain === 'shop'));
    assert.deepEqual(await audit(bobToken, '?user=ann'), []);
    assert.deepEqual(await audit(bobToken, '?domain=shop'), []);
    // A domain name ann gave up and bob then took shows bob his own events on it, never ann's from before.
    assert.equal((await call('POST', '/domains', { name: 'spare' })).status, 201);
    assert.equal((await call('DELETE', '/domains/spare')).status, 204);
    await eventFor(annToken, 'the domain deleted', (e) => e.action === 'domain.delete' && e.user === 'ann');
    assert.equal((await p.api('POST', '/domains', { name: 'spare' }, bobToken)).status, 201);
    await eventFor(bobToken, "bob's domain made", (e) => e.action === 'domain.create' && e.user === 'bob');
    assert.deepEqual(
      (await audit(bobToken, '?domain=spare&limit=500')).map((e) => [e.user, e.action]),
      [['bob', 'domain.create']],
    );
    // ann's own filters work on her events.
    const scales = await audit(annToken, '?action=app.scale&domain=shop');
    assert.deepEqual(
      scales.map((e) => [e.action, e.domain]),
      [['app.scale', 'shop']],
    );
    assert.ok((await audit(annToken, '?action=session')).every((e) => e.action.startsWith('session.')));
    assert.equal((await audit(p.token, '?limit=2')).length, 2);
  });

  it('refuses a bad query with a 400 that names the parameter', async () => {
    for (const [query, pointer] of [
      ['?limit=0', '?limit'],
      ['?limit=501', '?limit'],
      ['?since=yesterday', '?since'],
      ['?action=drop%20table', '?action'],
    ]) {
      const res = await p.api('GET', `/audit${query}`, undefined, annToken);
      assert.equal(res.status, 400, `${query}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.details[0].pointer, pointer);
    }
    // The OpenAPI document describes the route and its filters.
    const doc = (await (await fetch(`${p.baseUrl}/api/docs-json`)).json()) as { paths: Record<string, { get?: { parameters?: { name: string }[] } }> };
    assert.deepEqual((doc.paths['/api/v1/audit']?.get?.parameters ?? []).map((q) => q.name).sort(), ['action', 'domain', 'limit', 'since', 'until', 'user']);
  });

  it('prints the log as a table with gearshift audit', async () => {
    const cli = (args: string[], input?: string) => runCli(p, home, args, input);
    assert.equal((await cli(['login', '-u', 'ann', '--password-stdin'], `${ANN_PASSWORD}\n`)).code, 0);
    const r = await cli(['audit', '--domain', 'shop', '--action', 'app', '--since', '1h']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0], /^TIME\s+USER\s+FROM\s+ACTION\s+TARGET\s+OUTCOME$/);
    assert.ok(
      lines.some((l) => /\bann\s+127\.0\.0\.9\s+app\.delete\s+shop\/web\s+20\d ok$/.test(l)),
      r.stdout,
    );
    const bad = await cli(['audit', '--limit', '0']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /limit/);
  });
});
