import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashFolder } from '@gearshift/cartridges';
import { eventually, gitPush, Platform, ROOT } from './support/platform';

/**
 * Health checks that fit apps nobody wrote for Gearshift: an app with no /health route deploys and serves; an app
 * names its own check in gearshift.yml and both the rollout and the router hold it to that; a gear that listens on
 * the wrong port fails with that said plainly.
 */

/** A plain Node server, no framework, no health route: everything but its root is a 404. */
const PLAIN = `
require('http').createServer((req, res) => {
  if (req.url === '/') return res.end('hello from an app with no health route');
  res.statusCode = 404;
  res.end('not found');
}).listen(process.env.PORT);
`;

/** Its root fails (as a page that needs a database might), but /ready says whether it can serve. */
const READY = (version: string) => `
let ready = true;
require('http').createServer((req, res) => {
  if (req.url === '/ready') { res.statusCode = ready ? 200 : 503; return res.end(ready ? 'ready' : 'not ready'); }
  if (req.url === '/unready') { ready = false; return res.end('now unready'); }
  res.statusCode = 500;
  res.end('${version}: the root always fails');
}).listen(process.env.PORT);
`;

/** Ignores PORT, as apps that hard-code their own port do. */
const WRONG_PORT = `
const port = 3000;
require('http').createServer((req, res) => res.end('hi')).listen(port, () => console.log('my app listens on ' + port));
`;

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, '-c', 'user.email=dev@example.com', '-c', 'user.name=dev', ...args], { encoding: 'utf8' });
}

describe('health checks', { timeout: 900_000 }, () => {
  let p: Platform;
  let repo: string;
  const apps = '/domains/hc/apps';
  const host = 'site-hc.localhost';

  const push = (dir = repo, app = 'site') => gitPush(dir, `http://dev:${p.token}@127.0.0.1:${p.port}/git/hc/${app}.git`);
  const release = (files: Record<string, string>, message: string) => {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(repo, name), text);
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', message);
  };
  const descriptor = (health?: string) => ['name: site', 'cartridges: [nodejs-18]', ...(health ? [`health: ${health}`] : []), ''].join('\n');
  const haproxyConfig = () => readFileSync(join(p.dataDir, 'router', 'haproxy.cfg'), 'utf8');

  before(async () => {
    p = await Platform.start('health', { node1: {} }, { router: true });
    assert.equal((await p.api('POST', '/domains', { name: 'hc' })).status, 201);
    const res = await p.api('POST', `${apps}?wait=180`, { name: 'site', cartridges: ['nodejs-18'] });
    assert.equal(res.body.operation?.state, 'succeeded', JSON.stringify(res.body));
    repo = mkdtempSync(join(tmpdir(), 'gearshift-site-'));
    git(repo, 'init', '-q', '-b', 'main');
    writeFileSync(join(repo, 'package.json'), JSON.stringify({ name: 'site', version: '1.0.0', main: 'server.js' }, null, 2));
  });
  after(async () => {
    await p?.stop();
    if (repo) rmSync(repo, { recursive: true, force: true });
  });

  it('deploys an app that has no /health route and serves it through the router', async () => {
    release({ 'server.js': PLAIN, 'gearshift.yml': descriptor() }, 'no health route');
    const r = await push();
    assert.ok(r.ok, r.output);
    assert.match(r.output, /remote: -----> release 1 is active/);
    const answer = await eventually(
      'the app to answer through the router',
      async () => {
        const res = await p.viaRouter(host);
        return res.status === 200 && res.body;
      },
      20_000,
      200,
    );
    assert.equal(answer, 'hello from an app with no health route');
    // The rollout saw the gear answer HTTP; the router goes on checking that it takes connections, without asking
    // the app's root page for something every second.
    assert.doesNotMatch(haproxyConfig(), /httpchk/);
    assert.match(haproxyConfig(), /\n  server gear_\w+ [\d.]+:\d+ check\n/);
    assert.equal((await p.viaRouter(host, '/health')).status, 404, "the app's own 404, from a gear the router keeps");
  });

  it("holds the rollout and the router to the app's own health check from gearshift.yml", async () => {
    release({ 'server.js': READY('v2'), 'gearshift.yml': descriptor('{ path: /ready, status: 200 }') }, 'a readiness route');
    const r = await push();
    assert.ok(r.ok, r.output);
    assert.match(r.output, /remote: +change health/);
    assert.match(r.output, /remote: -----> release 2 is active/);
    const history = await p.api('GET', `${apps}/site/deployments`);
    assert.deepEqual(history.body[0].health, { path: '/ready', status: 200 });
    assert.deepEqual((await p.api('GET', `${apps}/site`)).body.health, { path: '/ready', status: 200 });
    // Its root answers 500 and it still serves: the check is /ready.
    const res = await eventually(
      'release 2 to answer',
      async () => {
        const x = await p.viaRouter(host);
        return x.body.startsWith('v2') && x;
      },
      20_000,
      200,
    );
    assert.equal(res.status, 500);
    assert.match(haproxyConfig(), /option httpchk GET \/ready\n  http-check expect status 200\n/);
  });

  it('rejects a release that does not meet its health check, saying what it answered', async () => {
    release({ 'server.js': READY('v3'), 'gearshift.yml': descriptor('{ path: /ready, status: 204, timeoutSeconds: 20 }') }, 'expects what it never answers');
    const r = await push();
    assert.equal(r.ok, false, r.output);
    assert.match(r.output, /did not pass its health check within 20 s \(last: GET \/ready answered 200, expected status 204\)/);
    assert.match(r.output, /\[remote rejected\] main -> main/);
    const still = await p.viaRouter(host);
    assert.match(still.body, /^v2/, 'release 2 keeps serving');
  });

  it('says plainly when nothing listened on the port, with what the gear printed', async () => {
    release({ 'server.js': WRONG_PORT, 'gearshift.yml': descriptor('{ timeoutSeconds: 20 }') }, 'listens on its own port');
    const r = await push();
    assert.equal(r.ok, false, r.output);
    assert.match(r.output, /nothing listened on 8080 within 20 s; it printed:\s+remote: +my app listens on 3000/);
    assert.equal(r.output.split('nothing listened').length - 1, 1, 'the reason is printed once');
    assert.doesNotMatch(r.output, /drain/, 'the failed gear never took traffic: nothing drains');
    assert.match((await p.viaRouter(host)).body, /^v2/, 'release 2 keeps serving');
    // Its container is gone; what it printed is still in the app's logs, tagged as such.
    const logs = await fetch(`${p.baseUrl}/api/v1${apps}/site/logs?tail=20`, { headers: { authorization: `Bearer ${p.token}` } });
    assert.match(await logs.text(), /^\[nodejs-18 [0-9a-f]{8}, failed its rollout at [^\]]+\] my app listens on 3000$/m);
  });

  it("refuses a health setting it could not apply, naming the field, and changes the running release's check", async () => {
    const bad = await p.api('PATCH', `${apps}/site`, { health: { path: 'ready', status: 99 } });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    const pointers = bad.body.details.map((d: { pointer: string }) => d.pointer);
    assert.ok(pointers.includes('/health/path'), pointers.join());
    const ok = await p.api('PATCH', `${apps}/site?wait=120`, { health: { path: '/ready', status: 200, timeoutSeconds: 30 } });
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    assert.equal(ok.body.operation.state, 'succeeded', JSON.stringify(ok.body.operation));
    assert.deepEqual(ok.body.health, { path: '/ready', status: 200, timeoutSeconds: 30 });
  });

  it('takes a gear out of the router when it stops meeting the check', async () => {
    // The gear the setting replaced joins the router first.
    await eventually('the replaced gear to serve', async () => /^v2/.test((await p.viaRouter(host)).body), 20_000, 200);
    assert.equal((await p.viaRouter(host, '/unready')).body, 'now unready');
    const down = await eventually(
      'the router to take the unready gear out',
      async () => {
        const x = await p.viaRouter(host);
        return x.status === 503 && x;
      },
      20_000,
      200,
    );
    assert.match(down.body, /no healthy gear/);
  });

  it('holds a gear that does not speak HTTP to a connection check, at the rollout and in the router', async () => {
    // A named image with no health path: a raw TCP service, which an HTTP check would never pass.
    const image = `gearshift/nodejs-18:${hashFolder(join(ROOT, 'cartridges/nodejs-18'))}`;
    const server = "require('net').createServer((s) => s.end('not http\\n')).listen(3000)";
    const res = await p.api('POST', `${apps}?wait=180`, {
      name: 'raw',
      cartridges: [{ name: 'docker-image', image, port: 3000, command: ['node', '-e', server] }],
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.operation.state, 'succeeded', res.body.operation.error);
    const backend = await eventually(
      'the router to route the app',
      async () => {
        const map = readFileSync(join(p.dataDir, 'router', 'hosts.map'), 'utf8');
        const name = /^raw-hc\.localhost (\S+)$/m.exec(map)?.[1];
        const block = name ? new RegExp(`^backend ${name}\n((?:  .*\n)+)`, 'm').exec(haproxyConfig())?.[1] : undefined;
        return block && / check\n/.test(block) && block;
      },
      20_000,
      200,
    );
    assert.doesNotMatch(backend, /httpchk/);
    assert.match(backend, /default-server inter 1s/);
  });

  it('stops an app whose first deployment fails, says why at its URL, and serves the next deployment that works', async () => {
    const created = await p.api('POST', `${apps}?wait=180`, { name: 'first', cartridges: ['nodejs-18'] });
    assert.equal(created.body.operation?.state, 'succeeded', JSON.stringify(created.body));
    const dir = mkdtempSync(join(tmpdir(), 'gearshift-first-'));
    try {
      git(dir, 'init', '-q', '-b', 'main');
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'first', version: '1.0.0', main: 'server.js' }));
      writeFileSync(join(dir, 'server.js'), "console.log('missing configuration, giving up'); process.exit(1);\n");
      git(dir, 'add', '-A');
      git(dir, 'commit', '-qm', 'crashes at start');
      const r = await push(dir, 'first');
      assert.equal(r.ok, false, r.output);
      assert.match(r.output, /stopped with exit code 1 before it passed its health check; it printed:\s+remote: +missing configuration, giving up/);
      assert.match(r.output, /the app had no release yet, so it stops until a deployment works/);
      assert.match(r.output, /push rejected: the first deployment failed, so first-hc is stopped: its URL says the deployment failed/);
      assert.doesNotMatch(r.output, /keeps serving/, 'no release serves');
      assert.equal((await p.api('GET', `${apps}/first`)).body.state, 'stopped');
      // Not the starter page: the router says the deployment failed, and why.
      const page = await eventually(
        'the router to say the deployment failed',
        async () => {
          const x = await p.viaRouter('first-hc.localhost');
          return x.status === 503 && /deployment of first failed/.test(x.body) && x;
        },
        20_000,
        200,
      );
      assert.match(page.body, /stopped with exit code 1 before it passed its health check/);
      assert.doesNotMatch(page.body, /missing configuration/, "the gear's output is for its owner, not for visitors");

      writeFileSync(join(dir, 'server.js'), PLAIN);
      git(dir, 'add', '-A');
      git(dir, 'commit', '-qm', 'works');
      const fixed = await push(dir, 'first');
      assert.ok(fixed.ok, fixed.output);
      assert.equal((await p.api('GET', `${apps}/first`)).body.state, 'started');
      const served = await eventually(
        'the fixed release to serve',
        async () => {
          const x = await p.viaRouter('first-hc.localhost');
          return x.status === 200 && x.body;
        },
        20_000,
        200,
      );
      assert.equal(served, 'hello from an app with no health route');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
