import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Platform, runCli } from './support/platform';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers, read field by field
  body: any;
}

/** One route of the API that takes a domain or an app (or an operation of one), with a body that passes its schema. */
interface Route {
  method: string;
  path: string;
  body?: unknown;
  /** A body sent as it is, with this content type (a snapshot archive, a descriptor). */
  raw?: { type: string; data: Buffer };
  /** The least that may take it: read (viewer+), develop (developer+), own (owner). */
  needs: 'read' | 'develop' | 'own';
}

const snapshot = gzipSync(Buffer.from('not really a snapshot'));
const descriptor = (app: string) => ({ type: 'text/yaml', data: Buffer.from(`name: ${app}\ncartridges: []\n`) });

/**
 * Every route on a domain, an app or an operation. `{d}`, `{a}` and `{op}` stand for the domain, the app and an
 * operation of the app. Kept beside the controllers' list by hand: a route added there belongs here.
 */
const ROUTES: Route[] = [
  { method: 'GET', path: '/domains/{d}', needs: 'read' },
  { method: 'GET', path: '/domains/{d}/apps', needs: 'read' },
  { method: 'GET', path: '/domains/{d}/apps/{a}', needs: 'read' },
  { method: 'GET', path: '/domains/{d}/apps/{a}/gears', needs: 'read' },
  { method: 'GET', path: '/domains/{d}/apps/{a}/env', needs: 'read' },
  { method: 'GET', path: '/domains/{d}/apps/{a}/operations', needs: 'read' },
  { method: 'GET', path: '/domains/{d}/apps/{a}/logs?tail=5', needs: 'read' },
  { method: 'GET', path: '/domains/{d}/apps/{a}/deployments', needs: 'read' },
  { method: 'GET', path: '/domains/{d}/apps/{a}/deployments/1', needs: 'read' },
  { method: 'GET', path: '/domains/{d}/apps/{a}/aliases', needs: 'read' },
  { method: 'GET', path: '/operations/{op}', needs: 'read' },
  { method: 'GET', path: '/operations/{op}/log', needs: 'read' },
  { method: 'GET', path: '/domains/{d}/apps/{a}/env?reveal=true', needs: 'develop' },
  { method: 'POST', path: '/domains/{d}/apps', body: { name: 'intruder', cartridges: [] }, needs: 'develop' },
  { method: 'PATCH', path: '/domains/{d}/apps/{a}', body: { idleAfterSeconds: 600 }, needs: 'develop' },
  { method: 'POST', path: '/domains/{d}/apps/{a}/actions', body: { action: 'stop' }, needs: 'develop' },
  { method: 'POST', path: '/domains/{d}/apps/{a}/cartridges', body: { cartridge: 'redis-7' }, needs: 'develop' },
  { method: 'DELETE', path: '/domains/{d}/apps/{a}/cartridges/redis-7', needs: 'develop' },
  { method: 'PATCH', path: '/domains/{d}/apps/{a}/env', body: { INTRUDER: 'yes' }, needs: 'develop' },
  { method: 'DELETE', path: '/domains/{d}/apps/{a}/env/KEEP', needs: 'develop' },
  { method: 'PUT', path: '/domains/{d}/apps/{a}/scale', body: { replicas: 2 }, needs: 'develop' },
  { method: 'POST', path: '/domains/{d}/apps/{a}/deployments', body: { git: { url: 'http://127.0.0.1:9/repo.git' } }, needs: 'develop' },
  { method: 'POST', path: '/domains/{d}/apps/{a}/deployments/1/activate', needs: 'develop' },
  { method: 'POST', path: '/domains/{d}/apps/{a}/aliases', body: { host: 'intruder.example.com' }, needs: 'develop' },
  { method: 'DELETE', path: '/domains/{d}/apps/{a}/aliases/kept.example.com', needs: 'develop' },
  { method: 'POST', path: '/domains/{d}/apps/{a}/snapshots', needs: 'develop' },
  { method: 'POST', path: '/domains/{d}/apps/{a}/snapshots/restore', raw: { type: 'application/gzip', data: snapshot }, needs: 'develop' },
  { method: 'POST', path: '/domains/{d}/apply', raw: descriptor('{a}'), needs: 'develop' },
  { method: 'POST', path: '/operations/{op}/cancel', needs: 'develop' },
  { method: 'DELETE', path: '/domains/{d}/apps/{a}', needs: 'develop' },
  { method: 'DELETE', path: '/domains/{d}', needs: 'own' },
];

/** The team's own routes, by team name `{t}`. */
const TEAM_ROUTES: Route[] = [
  { method: 'GET', path: '/teams/{t}', needs: 'read' },
  { method: 'POST', path: '/teams/{t}/members', body: { username: 'ivan', role: 'owner' }, needs: 'own' },
  { method: 'DELETE', path: '/teams/{t}/members/bea', needs: 'own' },
];

/** A 404 that names the domain, the app, the team or the operation itself: the caller was told it does not exist. */
const hiddenAnswer = (a: Answer) => a.status === 404 && /^(domain|app|team|operation) "/.test(String(a.body?.message));

/**
 * Teams and roles, tried as their members would: someone outside a team finds nothing of it (404, and nothing
 * changes), a viewer reads but changes nothing (403 naming the role), a developer changes apps but not the team nor
 * the domain, quotas stop gears at placement, and a wrong current password counts as a failed login.
 */
describe('teams, roles and quotas', { timeout: 600_000 }, () => {
  let p: Platform;
  const tokens: Record<string, string> = {};
  let opB = '';
  let opA = '';

  /** Any call, with its headers, from a chosen loopback address if given. */
  function call(method: string, path: string, token: string | null, body?: unknown, raw?: Route['raw'], localAddress?: string): Promise<Answer> {
    const data = raw ? raw.data : body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (data) Object.assign(headers, { 'content-type': raw ? raw.type : 'application/json', 'content-length': data.length });
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: p.port, method, path: `/api/v1${path}`, headers, localAddress }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch {
            // keep the text
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
        });
      });
      req.on('error', reject);
      req.end(data);
    });
  }

  const fill = (path: string, v: { d: string; a: string; op: string; t?: string }) =>
    path
      .replaceAll('{d}', v.d)
      .replaceAll('{a}', v.a)
      .replaceAll('{op}', v.op)
      .replaceAll('{t}', v.t ?? '');
  const routeCall = (r: Route, token: string, v: { d: string; a: string; op: string; t?: string }) =>
    call(r.method, fill(r.path, v), token, r.body, r.raw && { type: r.raw.type, data: Buffer.from(fill(r.raw.data.toString('latin1'), v), 'latin1') });

  async function expectStatus(what: Promise<Answer>, status: number, label: string): Promise<Answer> {
    const a = await what;
    assert.equal(a.status, status, `${label}: ${JSON.stringify(a.body)}`);
    return a;
  }

  /** A change that ran to its end: its operation succeeded. */
  async function expectDone(what: Promise<Answer>, label: string): Promise<Answer> {
    const a = await what;
    assert.ok(a.status >= 200 && a.status < 300, `${label}: ${a.status} ${JSON.stringify(a.body)}`);
    assert.equal(a.body?.operation?.state, 'succeeded', `${label}: ${JSON.stringify(a.body)}`);
    return a;
  }

  async function addUser(username: string): Promise<void> {
    const password = `${username} password 1`;
    await expectStatus(call('POST', '/users', p.token, { username, password }), 201, `create ${username}`);
    tokens[username] = (await expectStatus(call('POST', '/auth/login', null, { username, password }), 200, `log in ${username}`)).body.token;
  }

  /** What team B holds, as its owner reads it: the same before and after team A's attempts. */
  async function stateOfB() {
    const b = tokens.bea;
    const read = async (path: string) => {
      const a = await call('GET', path, b);
      assert.equal(a.status, 200, `${path}: ${JSON.stringify(a.body)}`);
      return a.body;
    };
    return {
      domains: await read('/domains'),
      apps: await read('/domains/domb/apps'),
      app: await read('/domains/domb/apps/appb'),
      env: await read('/domains/domb/apps/appb/env'),
      aliases: await read('/domains/domb/apps/appb/aliases'),
      operations: await read('/domains/domb/apps/appb/operations'),
      operation: await read(`/operations/${opB}`),
      team: await read('/teams/teamb'),
    };
  }

  before(async () => {
    // One node, for the quota's gears; the matrix's apps have no cartridge and place none.
    p = await Platform.start('teams', { node1: {} });
    for (const u of ['ada', 'dev', 'vic', 'bea', 'ivan']) await addUser(u);
    await expectStatus(call('POST', '/teams', tokens.ada, { name: 'teama' }), 201, 'team A');
    await expectStatus(call('POST', '/teams', tokens.bea, { name: 'teamb' }), 201, 'team B');
    await expectStatus(call('POST', '/teams/teama/members', tokens.ada, { username: 'dev', role: 'developer' }), 200, 'developer joins A');
    await expectStatus(call('POST', '/teams/teama/members', tokens.ada, { username: 'vic', role: 'viewer' }), 200, 'viewer joins A');
    await expectStatus(call('POST', '/domains', tokens.ada, { name: 'doma', team: 'teama' }), 201, 'domain A');
    await expectStatus(call('POST', '/domains', tokens.bea, { name: 'domb', team: 'teamb' }), 201, 'domain B');
    for (const [token, d, a] of [
      [tokens.ada, 'doma', 'appa'],
      [tokens.bea, 'domb', 'appb'],
    ]) {
      const created = await call('POST', `/domains/${d}/apps?wait=30`, token, { name: a, cartridges: [], env: { KEEP: 'me' } });
      assert.ok([201, 202].includes(created.status), JSON.stringify(created.body));
      assert.equal(created.body.operation?.state, 'succeeded', JSON.stringify(created.body));
      if (a === 'appb') opB = created.body.operation.id;
      else opA = created.body.operation.id;
    }
    await expectStatus(call('POST', '/domains/domb/apps/appb/aliases', tokens.bea, { host: 'kept.example.com' }), 201, 'alias of B');
  });
  after(async () => {
    await p?.stop();
  });

  it("answers 404 to every role of team A on every route of team B's domain, app and team, and changes nothing", async () => {
    const before = await stateOfB();
    const misses: string[] = [];
    for (const who of ['ada', 'dev', 'vic']) {
      for (const r of [...ROUTES, ...TEAM_ROUTES]) {
        const a = await routeCall(r, tokens[who], { d: 'domb', a: 'appb', op: opB, t: 'teamb' });
        if (!hiddenAnswer(a)) misses.push(`${who} ${r.method} ${r.path}: ${a.status} ${JSON.stringify(a.body)}`);
      }
      // A domain in team B, or a quota of it, is as unknown as the rest.
      const domain = await call('POST', '/domains', tokens[who], { name: `in${who}`, team: 'teamb' });
      if (!hiddenAnswer(domain)) misses.push(`${who} POST /domains in teamb: ${domain.status}`);
      const quota = await call('PUT', '/teams/teamb/quota', tokens[who], { maxGears: 100 });
      if (!hiddenAnswer(quota)) misses.push(`${who} PUT /teams/teamb/quota: ${quota.status}`);
    }
    assert.deepEqual(misses, []);
    // Nobody of team A sees team B in a listing either.
    for (const who of ['ada', 'dev', 'vic']) {
      assert.deepEqual(
        (await call('GET', '/domains', tokens[who])).body.map((d: { name: string }) => d.name),
        ['doma'],
      );
      assert.ok(!(await call('GET', '/teams', tokens[who])).body.some((t: { name: string }) => t.name === 'teamb'));
    }
    assert.deepEqual(await stateOfB(), before);
    // And B's app still answers its owner's changes.
    const stillB = await expectStatus(call('PATCH', '/domains/domb/apps/appb', tokens.bea, { idleAfterSeconds: 900 }), 200, "B's own change");
    assert.equal(stillB.body.idleAfterSeconds, 900);
  });

  it('refuses git fetches and pushes to team B as well, and to a viewer of team A', async () => {
    const git = (token: string, d: string, a: string) =>
      fetch(`${p.baseUrl}/git/${d}/${a}.git/info/refs?service=git-upload-pack`, {
        headers: { authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}` },
      });
    for (const who of ['ada', 'dev', 'vic']) assert.equal((await git(tokens[who], 'domb', 'appb')).status, 404, who);
    const viewer = await git(tokens.vic, 'doma', 'appa');
    assert.equal(viewer.status, 403);
    assert.match(await viewer.text(), /needs the role developer/);
    assert.equal((await git(tokens.dev, 'doma', 'appa')).status, 200);
  });

  it('lets a viewer of team A read everything of it and change nothing (403 naming the role)', async () => {
    const before = await call('GET', '/domains/doma/apps/appa', tokens.ada);
    const wrong: string[] = [];
    for (const r of [...ROUTES, ...TEAM_ROUTES]) {
      const a = await routeCall(r, tokens.vic, { d: 'doma', a: 'appa', op: opA, t: 'teama' });
      if (r.needs === 'read') {
        // A read of something the app does not have (its first release) is a 404 of that thing, not of the app.
        const fine = a.status === 200 || (r.path.endsWith('/deployments/1') && a.status === 404 && /^deployment "1"/.test(a.body?.message));
        if (!fine) wrong.push(`${r.method} ${r.path}: ${a.status} ${JSON.stringify(a.body)}`);
      } else {
        const needed = r.needs === 'own' ? 'owner' : 'developer';
        if (a.status !== 403 || a.body?.code !== 'forbidden' || !String(a.body?.message).includes(`needs the role ${needed}`)) {
          wrong.push(`${r.method} ${r.path}: ${a.status} ${JSON.stringify(a.body)}`);
        }
      }
    }
    assert.deepEqual(wrong, []);
    const domain = await call('POST', '/domains', tokens.vic, { name: 'byviewer', team: 'teama' });
    assert.equal(domain.status, 403);
    assert.deepEqual((await call('GET', '/domains/doma/apps/appa', tokens.ada)).body, before.body);
    assert.equal((await call('GET', '/teams/teama', tokens.vic)).body.role, 'viewer');
    // A viewer reads the names of the app's variables, not their values.
    assert.deepEqual((await call('GET', '/domains/doma/apps/appa', tokens.vic)).body.env, { KEEP: '********' });
    assert.deepEqual((await call('GET', '/domains/doma/apps/appa/env', tokens.vic)).body.env, { KEEP: '********' });
    assert.deepEqual((await call('GET', '/domains/doma/apps', tokens.vic)).body[0].env, { KEEP: '********' });
    assert.deepEqual((await call('GET', '/domains/doma/apps/appa/env', tokens.dev)).body.env, { KEEP: 'me' });
  });

  it('lets a developer change apps, but neither the members of the team nor the domain itself', async () => {
    await expectDone(call('POST', '/domains/doma/apps?wait=30', tokens.dev, { name: 'devapp', cartridges: [] }), 'create');
    await expectStatus(call('PATCH', '/domains/doma/apps/devapp', tokens.dev, { idleAfterSeconds: 900 }), 200, 'patch');
    await expectStatus(call('POST', '/domains/doma/apps/devapp/aliases', tokens.dev, { host: 'dev.example.com' }), 201, 'alias');
    await expectStatus(call('GET', '/domains/doma/apps/devapp/env?reveal=true', tokens.dev), 200, 'reveal');
    // Every change route of the app is the developer's to take: what answers is the app's own state, never the role.
    const refused: string[] = [];
    for (const r of ROUTES.filter((x) => x.needs === 'develop')) {
      const a = await routeCall(r, tokens.dev, { d: 'doma', a: 'devapp', op: opA });
      if (a.status === 403 || hiddenAnswer(a)) refused.push(`${r.method} ${r.path}: ${a.status} ${JSON.stringify(a.body)}`);
    }
    assert.deepEqual(refused, []);
    for (const r of [...ROUTES, ...TEAM_ROUTES].filter((x) => x.needs === 'own')) {
      const a = await routeCall(r, tokens.dev, { d: 'doma', a: 'appa', op: opA, t: 'teama' });
      assert.equal(a.status, 403, `${r.method} ${r.path}: ${JSON.stringify(a.body)}`);
      assert.match(a.body.message, /needs the role owner/);
    }
    await expectStatus(call('POST', '/domains', tokens.dev, { name: 'bydev', team: 'teama' }), 201, 'a developer makes a domain in the team');
    assert.equal((await call('GET', '/domains/doma', tokens.ada)).status, 200);
  });

  it('lets an owner manage members but never remove or demote the last owner', async () => {
    const last = await call('DELETE', '/teams/teama/members/ada', tokens.ada);
    assert.equal(last.status, 409, JSON.stringify(last.body));
    assert.equal((await call('POST', '/teams/teama/members', tokens.ada, { username: 'ada', role: 'viewer' })).status, 409);
    await expectStatus(call('POST', '/teams/teama/members', tokens.ada, { username: 'ivan', role: 'viewer' }), 200, 'add');
    assert.equal((await call('GET', '/domains/doma', tokens.ivan)).status, 200);
    await expectStatus(call('POST', '/teams/teama/members', tokens.ada, { username: 'ivan', role: 'developer' }), 200, 'promote');
    const team = (await call('GET', '/teams/teama', tokens.ada)).body;
    assert.deepEqual(
      team.members.map((m: { username: string; role: string }) => `${m.username}:${m.role}`),
      ['ada:owner', 'dev:developer', 'ivan:developer', 'vic:viewer'],
    );
    await expectStatus(call('DELETE', '/teams/teama/members/ivan', tokens.ada), 204, 'remove');
    // A user's own team is named as the user; a team made first with that name (anyone may make one) cannot keep an
    // administrator from creating the user: their own team is then "<name>-home", a name no team made by hand has.
    const squatted = await call('POST', '/users', p.token, { username: 'teama', password: 'teama password 1' });
    assert.equal(squatted.status, 201, JSON.stringify(squatted.body));
    const homes = ((await call('GET', '/teams', p.token)).body as { name: string; personal: boolean }[]).filter((t) => t.name.startsWith('teama'));
    assert.deepEqual(
      homes.map((t) => `${t.name}:${t.personal}`),
      ['teama:false', 'teama-home:true'],
    );
    await expectStatus(call('DELETE', '/users/teama', p.token), 204, 'the user named as a team');
    // Nor does a team lose its last owner with the owner's account.
    const gone = await call('DELETE', '/users/ada', p.token);
    assert.equal(gone.status, 409, JSON.stringify(gone.body));
    assert.match(gone.body.message, /only owner of team\(s\) teama/);
    assert.equal((await call('GET', '/domains/doma', tokens.ivan)).status, 404);
    // Every user has a personal team, where their domains go unless they name another.
    const own = await call('GET', '/teams', tokens.ivan);
    assert.deepEqual(
      own.body.map((t: { name: string; role: string; personal: boolean }) => [t.name, t.role, t.personal]),
      [['ivan', 'owner', true]],
    );
    await expectStatus(call('POST', '/domains', tokens.ivan, { name: 'ivans' }), 201, 'domain in the personal team');
    assert.equal((await call('GET', '/domains/ivans', tokens.ivan)).body.team, 'ivan');
  });

  it('refuses gears over a team quota with 422 quota_exceeded, leaving nothing half-made', async () => {
    await expectStatus(call('POST', '/teams', tokens.ada, { name: 'small' }), 201, 'team');
    assert.equal((await call('PUT', '/teams/small/quota', tokens.ada, { maxGears: 1 })).status, 403, 'only administrators set quotas');
    await expectStatus(call('PUT', '/teams/small/quota', p.token, { maxGears: 1 }), 200, 'quota');
    await expectStatus(call('POST', '/domains', tokens.ada, { name: 'tiny', team: 'small' }), 201, 'domain');
    const one = await call('POST', '/domains/tiny/apps?wait=120', tokens.ada, { name: 'one', cartridges: ['static'] });
    assert.equal(one.body.operation?.state, 'succeeded', JSON.stringify(one.body));

    const two = await call('POST', '/domains/tiny/apps', tokens.ada, { name: 'two', cartridges: ['static'] });
    assert.equal(two.status, 422, JSON.stringify(two.body));
    assert.equal(two.body.code, 'quota_exceeded');
    assert.deepEqual(two.body.details, { quota: 'maxGears', limit: 1, use: 1, requested: 1 });
    assert.match(two.body.message, /maxGears quota: the limit is 1, it uses 1/);
    const scaled = await call('PUT', '/domains/tiny/apps/one/scale', tokens.ada, { replicas: 2 });
    assert.equal(scaled.status, 422, JSON.stringify(scaled.body));
    assert.equal(scaled.body.code, 'quota_exceeded');
    // An autoscale minimum beyond the quota, through a descriptor: refused at apply, as PUT .../scale refuses it.
    const applied = await call('POST', '/domains/tiny/apply', tokens.ada, undefined, {
      type: 'text/yaml',
      data: Buffer.from('name: one\ncartridges: [static]\nautoscale: {min: 2, max: 3}\n'),
    });
    assert.equal(applied.status, 422, JSON.stringify(applied.body));
    assert.equal(applied.body.code, 'quota_exceeded');
    assert.equal((await call('GET', '/domains/tiny/apps/one', tokens.ada)).body.autoscale, null, 'no autoscale bounds are kept');

    const apps = (await call('GET', '/domains/tiny/apps', tokens.ada)).body;
    assert.deepEqual(
      apps.map((a: { name: string; gears: unknown[] }) => [a.name, a.gears.length]),
      [['one', 1]],
    );
    const ops = (await call('GET', '/domains/tiny/apps/one/operations', tokens.ada)).body;
    assert.deepEqual(
      ops.map((o: { kind: string }) => o.kind),
      ['app.create'],
    );
    assert.deepEqual((await call('GET', '/teams/small', tokens.ada)).body.quota, { maxGears: 1, maxMemoryMb: null });
    assert.equal((await call('GET', '/teams/small', tokens.ada)).body.use.gears, 1);

    // An app without cartridges holds no gear, but its first release would place one: refused before anything is built.
    await expectDone(call('POST', '/domains/tiny/apps?wait=30', tokens.ada, { name: 'later', cartridges: [] }), 'empty app');
    const src = mkdtempSync(join(tmpdir(), 'gearshift-teams-src-'));
    writeFileSync(join(src, 'package.json'), JSON.stringify({ name: 'later', scripts: { start: 'node server.js' } }));
    writeFileSync(join(src, 'server.js'), 'require("http").createServer((q, s) => s.end("hi")).listen(process.env.PORT || 8080);\n');
    const archive = execFileSync('tar', ['-czf', '-', '-C', src, '.']);
    rmSync(src, { recursive: true, force: true });
    const release = await call('POST', '/domains/tiny/apps/later/deployments', tokens.ada, undefined, { type: 'application/gzip', data: archive });
    assert.equal(release.status, 422, JSON.stringify(release.body));
    assert.equal(release.body.code, 'quota_exceeded');
    assert.deepEqual((await call('GET', '/domains/tiny/apps/later/deployments', tokens.ada)).body, []);
    assert.deepEqual((await call('GET', '/domains/tiny/apps/later', tokens.ada)).body.cartridges, []);
    await expectDone(call('DELETE', '/domains/tiny/apps/one?wait=120', tokens.ada), 'clean up');

    // With room for one gear, a first release whose Procfile names a worker needs two: the web gear and the worker's.
    const withWorker = mkdtempSync(join(tmpdir(), 'gearshift-teams-src-'));
    writeFileSync(join(withWorker, 'package.json'), JSON.stringify({ name: 'later', scripts: { start: 'node server.js' } }));
    writeFileSync(join(withWorker, 'server.js'), 'require("http").createServer((q, s) => s.end("hi")).listen(process.env.PORT || 8080);\n');
    writeFileSync(join(withWorker, 'Procfile'), 'web: node server.js\nworker: node server.js\n');
    const workerArchive = execFileSync('tar', ['-czf', '-', '-C', withWorker, '.']);
    rmSync(withWorker, { recursive: true, force: true });
    const worker = await call('POST', '/domains/tiny/apps/later/deployments', tokens.ada, undefined, { type: 'application/gzip', data: workerArchive });
    assert.equal(worker.status, 422, JSON.stringify(worker.body));
    assert.deepEqual(worker.body.details, { quota: 'maxGears', limit: 1, use: 0, requested: 2 });
    assert.deepEqual((await call('GET', '/domains/tiny/apps/later/deployments', tokens.ada)).body, []);
  });

  it('drives teams from the CLI: list, create, add, remove, and a domain in a team', async () => {
    const home = mkdtempSync(join(tmpdir(), 'gearshift-teams-cli-'));
    try {
      const cli = (args: string[], input?: string) => runCli(p, home, args, input);
      assert.equal((await cli(['login', '-u', 'ada', '--password-stdin'], 'ada password 1\n')).code, 0);
      const created = await cli(['teams', 'create', 'clia']);
      assert.equal(created.code, 0, created.stderr);
      const added = await cli(['teams', 'add', 'clia', 'vic', '--role', 'developer']);
      assert.equal(added.code, 0, added.stderr);
      assert.equal((await cli(['teams', 'add', 'clia', 'vic', '--role', 'boss'])).code, 2);
      const listed = await cli(['teams']);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /NAME\s+ROLE\s+PERSONAL\s+CREATED/);
      assert.match(listed.stdout, /\bada\s+owner\s+yes\s/);
      assert.match(listed.stdout, /\bclia\s+owner\s/);
      const domain = await cli(['domains', 'create', 'clidom', '--team', 'clia']);
      assert.equal(domain.code, 0, domain.stderr);
      assert.equal((await call('GET', '/domains/clidom', tokens.vic)).body.team, 'clia');
      const removed = await cli(['teams', 'remove', 'clia', 'vic']);
      assert.equal(removed.code, 0, removed.stderr);
      assert.equal((await call('GET', '/domains/clidom', tokens.vic)).status, 404);
      const shown = await cli(['teams', 'show', 'clia']);
      assert.match(shown.stdout, /ada\s+owner/);
      assert.match(shown.stdout, /gears 0 of unlimited/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('answers the 11th wrong current password with 429 and Retry-After, as a login', async () => {
    const address = '127.0.0.57';
    const statuses: number[] = [];
    let last: Answer | undefined;
    for (let i = 0; i < 11; i++) {
      last = await call('PUT', '/users/me/password', tokens.ivan, { current: 'not the password', password: 'ivan password 2' }, undefined, address);
      statuses.push(last.status);
    }
    assert.deepEqual(statuses, [...Array<number>(10).fill(403), 429]);
    assert.ok(Number(last!.headers['retry-after']) > 0, JSON.stringify(last!.headers));
    // Past the limit even the right password waits, and so does a login of the same user from the same address;
    // from another address the user still logs in (failures lock a user name per client address).
    const right = await call('PUT', '/users/me/password', tokens.ivan, { current: 'ivan password 1', password: 'ivan password 2' }, undefined, address);
    assert.equal(right.status, 429);
    assert.equal((await call('POST', '/auth/login', null, { username: 'ivan', password: 'ivan password 1' }, undefined, address)).status, 429);
    assert.equal((await call('POST', '/auth/login', null, { username: 'ivan', password: 'ivan password 1' }, undefined, '127.0.0.58')).status, 200);
  });
});
