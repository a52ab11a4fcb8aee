import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { eventually, gitPush, Platform, psqlIn, registryHeaders, requestLoop, sleep } from './support/platform';

/**
 * Deploying code for real: a git client pushes a Node app that uses its database to git's http-backend, the build
 * streams back, the release rolls out under a request loop, a broken push is refused, a rollback restores the
 * previous answer, and an unsafe archive is refused.
 */

const APP = `
const http = require('http');
const { Client } = require('pg');
const VERSION = 'v1';
http.createServer(async (req, res) => {
  if (req.url === '/health') return res.end('ok');
  console.log('served ' + req.url);
  const db = new Client({ connectionString: process.env.DATABASE_URL });
  try {
    await db.connect();
    await db.query('insert into visits default values');
    const greeting = (await db.query('select text from greetings limit 1')).rows[0].text;
    const visits = (await db.query('select count(*)::int as n from visits')).rows[0].n;
    res.end(JSON.stringify({ version: VERSION, greeting, visits, leftPad: require('left-pad')('x', 3) }));
  } catch (err) {
    res.statusCode = 500;
    res.end(err.message);
  } finally {
    db.end().catch(() => {});
  }
}).listen(process.env.PORT || 8080);
`;

/** The deploy hook: a database migration, run once before the release takes traffic. */
const MIGRATE = `#!/bin/sh
set -e
echo "migrating with $DATABASE_URL"
node -e "
const { Client } = require('pg');
const c = new Client({ connectionString: process.env.DATABASE_URL });
c.connect()
  .then(() => c.query(\\"create table if not exists greetings (text text); create table if not exists visits (id serial primary key); delete from greetings; insert into greetings values ('hello from the migration')\\"))
  .then(() => c.end());
"
`;

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, '-c', 'user.email=dev@example.com', '-c', 'user.name=dev', ...args], { encoding: 'utf8' });
}

/** A tar.gz whose one entry is named by hand (no careful tool makes "../evil"). */
function evilArchive(): Buffer {
  const h = Buffer.alloc(512);
  h.write('../evil', 0);
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write('00000000002\0', 124);
  h.write('00000000000\0', 136);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  const body = Buffer.alloc(512);
  body.write('x\n');
  return gzipSync(Buffer.concat([h, body, Buffer.alloc(1024)]));
}

describe('deploying code', { timeout: 900_000 }, () => {
  let p: Platform;
  let repo: string;
  const apps = '/domains/dev/apps';
  const host = 'shop-dev.localhost';

  const push = () => gitPush(repo, `http://dev:${p.token}@127.0.0.1:${p.port}/git/dev/shop.git`);
  const commit = (message: string) => {
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', message);
  };
  const answer = async () => {
    const r = await p.viaRouter(host);
    assert.equal(r.status, 200, r.body);
    return JSON.parse(r.body) as { version: string; greeting: string; visits: number; leftPad: string };
  };

  before(async () => {
    p = await Platform.start(
      'deploy',
      { node1: {} },
      {
        router: true,
        env: {
          GEARSHIFT_MAX_UPLOAD_MB: '2',
          GEARSHIFT_KEEP_RELEASES: '2',
          GEARSHIFT_MAX_LOG_STREAMS: '3',
          // The git URLs deployed from here are the broker's own, on loopback: the operator allows them.
          GEARSHIFT_FETCH_ALLOW: '127.0.0.1',
        },
      },
    );
    assert.equal((await p.api('POST', '/domains', { name: 'dev' })).status, 201);
    const res = await p.api('POST', `${apps}?wait=180`, { name: 'shop', cartridges: ['nodejs-18', 'postgresql-15'] });
    assert.equal(res.body.operation?.state, 'succeeded', JSON.stringify(res.body));
    repo = mkdtempSync(join(tmpdir(), 'gearshift-shop-'));
    git(repo, 'init', '-q', '-b', 'main');
    writeFileSync(
      join(repo, 'package.json'),
      JSON.stringify({ name: 'shop', version: '1.0.0', main: 'server.js', dependencies: { 'left-pad': '1.3.0' } }, null, 2),
    );
    writeFileSync(join(repo, 'server.js'), APP);
    mkdirSync(join(repo, '.gearshift/hooks'), { recursive: true });
    writeFileSync(join(repo, '.gearshift/hooks/deploy'), MIGRATE);
    chmodSync(join(repo, '.gearshift/hooks/deploy'), 0o755);
    // The app's shape travels with its code: applied before each build.
    writeFileSync(
      join(repo, 'gearshift.yml'),
      [
        'name: shop',
        'cartridges: [nodejs-18, postgresql-15]',
        'env: { GREETING: from-the-descriptor }',
        'hooks:',
        '  post-deploy: echo "post-deploy ran in $GEARSHIFT_APP with $GREETING"',
        '',
      ].join('\n'),
    );
    commit('first release');
  });
  after(async () => {
    await p?.stop();
    if (repo) rmSync(repo, { recursive: true, force: true });
  });

  it('git push builds the app with its npm dependencies, runs the deploy hook, and serves it with its database', async () => {
    const r = await push();
    assert.ok(r.ok, r.output);
    assert.match(r.output, /remote: -----> building the image with the cartridge's build recipe/);
    // DATABASE_URL carries the password: the hook's output shows a mask instead.
    assert.match(r.output, /remote: +deploy hook: migrating with \*{6}\s/, 'the hook ran, and its output hides the credentials');
    assert.match(r.output, /remote: -----> applying gearshift\.yml\s+remote: +add env GREETING/);
    assert.match(r.output, /remote: +post-deploy hook: post-deploy ran in shop with from-the-descriptor/);
    assert.match(r.output, /remote: -----> release 1 is active/);
    const body = await eventually('the release to answer', async () => (await p.viaRouter(host)).status === 200 && answer(), 20_000, 200);
    assert.equal(body.version, 'v1');
    assert.equal(body.greeting, 'hello from the migration');
    assert.equal(body.leftPad, '  x', 'left-pad came from the npm registry');
    assert.ok(Number(await psqlIn(p, 'shop', 'select count(*) from visits')) >= 1);
    const history = await p.api('GET', `${apps}/shop/deployments`);
    assert.equal(history.body[0].number, 1);
    assert.equal(history.body[0].state, 'active');
    assert.equal(history.body[0].source.kind, 'git-push');
    assert.equal(history.body[0].dockerfile, 'recipe');
  });

  it('streams the logs of every gear, each line tagged with its gear, and follows new lines', async () => {
    const recent = await fetch(`${p.baseUrl}/api/v1${apps}/shop/logs?tail=50`, { headers: { authorization: `Bearer ${p.token}` } });
    assert.equal(recent.status, 200);
    const text = await recent.text();
    assert.match(text, /^\[nodejs-18 [0-9a-f]{8}\] served \//m, p.logs());
    assert.match(text, /^\[postgresql-15 [0-9a-f]{8}\] /m, "the database gear's output is there too");
    const bad = await p.api('GET', `${apps}/shop/logs?tail=-1`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.details[0].pointer, '?tail');

    const controller = new AbortController();
    const follow = await fetch(`${p.baseUrl}/api/v1${apps}/shop/logs?tail=0&follow=true`, {
      headers: { authorization: `Bearer ${p.token}` },
      signal: controller.signal,
    });
    let seen = '';
    const reading = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of follow.body as unknown as AsyncIterable<Uint8Array>) {
          seen += decoder.decode(chunk, { stream: true });
          if (seen.includes('served /followed')) break;
        }
      } catch {
        // aborted
      }
    })();
    await eventually(
      'a followed line',
      async () => {
        await p.viaRouter(host, '/followed');
        return seen.includes('served /followed');
      },
      15_000,
      500,
    );
    controller.abort();
    await reading;
    assert.match(seen, /^\[nodejs-18 [0-9a-f]{8}\] served \/followed$/m);
  });

  it('holds one user to GEARSHIFT_MAX_LOG_STREAMS open log streams: the next is 429, and one closed makes room', async () => {
    const open = (controller: AbortController) =>
      fetch(`${p.baseUrl}/api/v1${apps}/shop/logs?tail=0&follow=true`, { headers: { authorization: `Bearer ${p.token}` }, signal: controller.signal });
    const controllers = [new AbortController(), new AbortController(), new AbortController()];
    const streams = await Promise.all(controllers.map(open));
    assert.deepEqual(
      streams.map((s) => s.status),
      [200, 200, 200],
    );
    const over = await open(new AbortController());
    assert.equal(over.status, 429);
    assert.equal(over.headers.get('retry-after'), '5');
    assert.match(((await over.json()) as { message: string }).message, /3 log streams open.*GEARSHIFT_MAX_LOG_STREAMS/);
    // The broker answers everyone else meanwhile.
    assert.equal((await p.api('GET', '/healthz', undefined, null)).status, 200);
    controllers[0].abort();
    const again = await eventually(
      'a closed stream to make room',
      async () => {
        const c = new AbortController();
        const s = await open(c);
        if (s.status === 200) return c;
        await s.body?.cancel();
        return null;
      },
      10_000,
      200,
    );
    again.abort();
    for (const c of controllers.slice(1)) c.abort();
  });

  it('rolls out a code change while a request loop sees no failed request', async () => {
    writeFileSync(join(repo, 'server.js'), APP.replace("'v1'", "'v2'"));
    commit('second release');
    const loop = requestLoop(p, host, (body) => JSON.parse(body).version);
    const { failures, seen: versions } = loop;
    await sleep(300);
    const r = await push();
    assert.ok(r.ok, r.output);
    assert.match(
      r.output,
      /installing dependencies \(package.json\)\s+remote: +unchanged since the last build: reused/,
      'the dependency layer came from the cache',
    );
    await eventually('the new release to answer', async () => versions.has('v2'), 10_000, 100);
    await sleep(1000);
    const ok = await loop.stop();
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${ok + failures.length} requests failed`);
    assert.ok(ok > 20, `only ${ok} requests went through`);
    assert.equal((await answer()).version, 'v2');
    const gears = (await p.api('GET', `${apps}/shop`)).body.gears.filter((g: { cartridge: string }) => g.cartridge === 'nodejs-18');
    assert.equal(gears.length, 1, 'the old gear was retired');
    assert.equal(gears[0].release, 2);
  });

  it('refuses a push whose release never gets healthy, and the running release keeps answering', async () => {
    writeFileSync(join(repo, 'server.js'), `${APP.replace("'v1'", "'v3'")}\nthis is not javascript(\n`);
    commit('broken release');
    const r = await push();
    assert.equal(r.ok, false, r.output);
    assert.match(r.output, /rolled back: gear nodejs-18 \w+ stopped with exit code 1/);
    assert.match(r.output, /SyntaxError/, "the app's own error is in the push output");
    assert.match(r.output, /\[remote rejected\] main -> main/);
    assert.equal((await answer()).version, 'v2');
    const history = await p.api('GET', `${apps}/shop/deployments`);
    assert.equal(history.body[0].state, 'failed');
    assert.match(history.body[0].error, /rolled back/);
  });

  it("refuses a push whose build fails, with the build's own error", async () => {
    writeFileSync(join(repo, 'server.js'), APP.replace("'v1'", "'v4'"));
    writeFileSync(join(repo, 'package.json'), JSON.stringify({ name: 'shop', version: '1.0.0', dependencies: { 'gearshift-no-such-package-xyz': '1.0.0' } }));
    commit('a dependency that does not exist');
    const r = await push();
    assert.equal(r.ok, false, r.output);
    assert.match(r.output, /404|E404|Not Found/i, 'npm says what it could not find');
    assert.match(r.output, /the build of release \d+ failed/);
    assert.equal((await answer()).version, 'v2');
    // Put the good dependencies back for what follows.
    git(repo, 'reset', '-q', '--hard', 'HEAD~2');
  });

  it('rolls back to an earlier release without a rebuild', async () => {
    const res = await p.api('POST', `${apps}/shop/deployments/1/activate?wait=120`);
    assert.equal(res.status, 202);
    assert.equal(res.body.operation.state, 'succeeded', res.body.operation.error);
    assert.ok(!res.body.operation.steps.some((s: { text: string }) => /building/.test(s.text)), 'nothing was built');
    await eventually('release 1 to answer again', async () => (await answer()).version === 'v1', 10_000, 100);
    const history = await p.api('GET', `${apps}/shop/deployments`);
    const active = history.body.filter((d: { active: boolean }) => d.active);
    assert.deepEqual(
      active.map((d: { number: number }) => d.number),
      [1],
    );
    assert.equal(history.body.find((d: { number: number }) => d.number === 2).state, 'inactive');
    const again = await p.api('POST', `${apps}/shop/deployments/1/activate`);
    assert.equal(again.status, 409);
  });

  it('refuses an archive with an entry that leaves the tree, and makes no release', async () => {
    const before = (await p.api('GET', `${apps}/shop/deployments`)).body.length;
    const res = await fetch(`${p.baseUrl}/api/v1${apps}/shop/deployments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/gzip' },
      body: evilArchive(),
    });
    const body = (await res.json()) as { code: string; message: string; details: { pointer: string; rule: string }[] };
    assert.equal(res.status, 422);
    assert.match(body.message, /"\.\.\/evil" has a "\.\." component/);
    assert.deepEqual(
      body.details.map((d) => [d.pointer, d.rule]),
      [['/archive/../evil', 'no-parent']],
    );
    assert.equal((await p.api('GET', `${apps}/shop/deployments`)).body.length, before);
  });

  it("deploys from a git URL, and builds a repository's own Dockerfile", async () => {
    const fromGit = await p.api('POST', `${apps}?wait=120`, { name: 'mirror', cartridges: ['nodejs-18', 'postgresql-15'] });
    assert.equal(fromGit.body.operation.state, 'succeeded');
    const url = `http://dev:${p.token}@127.0.0.1:${p.port}/git/dev/shop.git`;
    const res = await p.api('POST', `${apps}/mirror/deployments?wait=300`, { git: { url, ref: 'main' } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.operation.state, 'succeeded', res.body.operation.error);
    assert.equal(res.body.deployment.source.kind, 'git');
    assert.equal(res.body.deployment.source.url, `http://127.0.0.1:${p.port}/git/dev/shop.git`, 'no credentials kept');
    assert.match(res.body.deployment.source.commit, /^[0-9a-f]{40}$/);
    const unreachable = await p.api('POST', `${apps}/mirror/deployments`, { git: { url: 'http://127.0.0.1:1/nothing.git', ref: 'main' } });
    assert.equal(unreachable.status, 422);
    assert.equal(unreachable.body.details[0].pointer, '/git/url');

    const dir = mkdtempSync(join(tmpdir(), 'gearshift-dockerfile-'));
    writeFileSync(
      join(dir, 'Dockerfile'),
      ['ARG GEARSHIFT_CARTRIDGE_IMAGE', 'FROM ${GEARSHIFT_CARTRIDGE_IMAGE}', 'COPY app.js /opt/app/app.js', 'CMD ["node", "/opt/app/app.js"]', ''].join('\n'),
    );
    writeFileSync(join(dir, 'app.js'), "require('http').createServer((q, s) => s.end('built from my Dockerfile')).listen(8080);\n");
    const archive = execFileSync('tar', ['-cz', '-C', dir, '.']);
    rmSync(dir, { recursive: true, force: true });
    const up = await fetch(`${p.baseUrl}/api/v1${apps}/mirror/deployments?wait=300`, {
      method: 'POST',
      headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/gzip' },
      body: archive,
    });
    const body = (await up.json()) as { deployment: { dockerfile: string; number: number }; operation: { state: string; error: string } };
    assert.equal(body.operation.state, 'succeeded', body.operation.error);
    assert.equal(body.deployment.dockerfile, 'repository');
    const app = (await p.api('GET', `${apps}/mirror`)).body;
    const web = app.gears.find((g: { cartridge: string }) => g.cartridge === 'nodejs-18');
    assert.equal(await (await fetch(web.endpoints.http)).text(), 'built from my Dockerfile');
    const history = (await p.api('GET', `${apps}/mirror/deployments`)).body as { number: number; image: string | null }[];
    assert.deepEqual(
      history.map((d) => d.number),
      [2, 1],
    );
    assert.ok(
      history.every((d) => d.image),
      'both releases keep their images (the newest 2 are kept here)',
    );
    const big = await fetch(`${p.baseUrl}/api/v1${apps}/mirror/deployments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/gzip' },
      body: Buffer.alloc(3 * 1024 * 1024),
    });
    assert.equal(big.status, 413);
  });

  it('deploys an uploaded archive to a static site, and one deployment runs at a time', async () => {
    assert.equal((await p.api('POST', `${apps}?wait=120`, { name: 'site', cartridges: ['static'] })).body.operation.state, 'succeeded');
    const dir = mkdtempSync(join(tmpdir(), 'gearshift-site-'));
    writeFileSync(join(dir, 'index.html'), '<h1>uploaded</h1>\n');
    writeFileSync(join(dir, 'health'), 'ok\n');
    const archive = execFileSync('tar', ['-cz', '-C', dir, '.']);
    rmSync(dir, { recursive: true, force: true });
    const upload = () =>
      fetch(`${p.baseUrl}/api/v1${apps}/site/deployments`, {
        method: 'POST',
        headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/gzip' },
        body: archive,
      });
    const first = await upload();
    assert.equal(first.status, 202);
    const second = await upload();
    assert.equal(second.status, 409, 'a second deployment while one runs is refused');
    assert.match(((await second.json()) as { message: string }).message, /one deployment runs at a time/);
    const op = ((await first.json()) as { operation: { id: string } }).operation.id;
    const log = await (await fetch(`${p.baseUrl}/api/v1/operations/${op}/log?follow=true`, { headers: { authorization: `Bearer ${p.token}` } })).text();
    assert.match(log, /-----> release 1 is active\n-----> done\n$/, log);
    const r = await eventually(
      'the uploaded site',
      async () => {
        const x = await p.viaRouter('site-dev.localhost');
        return x.body.includes('uploaded') && x;
      },
      10_000,
      100,
    );
    assert.equal(r.status, 200);
  });

  it('removes from the registry the images of releases it no longer keeps', async () => {
    // Two more releases of the site: with 2 kept, its first is let go.
    const dir = mkdtempSync(join(tmpdir(), 'gearshift-site-'));
    writeFileSync(join(dir, 'health'), 'ok\n');
    for (const n of [2, 3]) {
      writeFileSync(join(dir, 'index.html'), `<h1>release ${n}</h1>\n`);
      const up = await fetch(`${p.baseUrl}/api/v1${apps}/site/deployments?wait=120`, {
        method: 'POST',
        headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/gzip' },
        body: execFileSync('tar', ['-cz', '-C', dir, '.']),
      });
      assert.equal(((await up.json()) as { operation: { state: string } }).operation.state, 'succeeded');
    }
    rmSync(dir, { recursive: true, force: true });
    const history = (await p.api('GET', `${apps}/site/deployments`)).body as { number: number; state: string; image: string | null }[];
    assert.deepEqual(
      history.map((d) => [d.number, Boolean(d.image)]),
      [
        [3, true],
        [2, true],
        [1, false],
      ],
    );
    // registry/repository:number
    const [, registry, repo] = /^([^/]+)\/(.+):\d+$/.exec(history[0].image!)!;
    let tags: string[] = [];
    await eventually(
      'the registry to let go of release 1',
      async () => {
        tags =
          ((await (await fetch(`http://${registry}/v2/${repo}/tags/list`, { headers: registryHeaders() })).json()) as { tags: string[] | null }).tags ?? [];
        return !tags.includes('1');
      },
      15_000,
      200,
    ).catch((err) => {
      throw new Error(`${err.message}: tags ${tags.join(', ')}`);
    });
    assert.deepEqual(tags.sort(), ['2', '3'], 'the kept releases stay');
  });

  it('takes again the push of a commit whose deployment ran but whose push was cut short, recording it without a new release', async () => {
    writeFileSync(join(repo, 'server.js'), APP.replace("'v1'", "'v6'"));
    commit('a release whose push is cut short');
    const sha = git(repo, 'rev-parse', 'HEAD').trim();
    // What a push's hook sends before its connection breaks: the deployment is the broker's from then on.
    const up = await fetch(`${p.baseUrl}/api/v1${apps}/shop/deployments?wait=180`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${p.token}`,
        'content-type': 'application/gzip',
        'x-gearshift-source': 'git-push',
        'x-gearshift-commit': sha,
        'x-gearshift-ref': 'main',
      },
      body: execFileSync('git', ['-C', repo, 'archive', '--format=tar.gz', sha]),
    });
    assert.equal(((await up.json()) as { operation: { state: string } }).operation.state, 'succeeded');
    const releases = (await p.api('GET', `${apps}/shop/deployments`)).body.length;
    const r = await push();
    assert.ok(r.ok, r.output);
    assert.match(r.output, new RegExp(`shop-dev already runs ${sha.slice(0, 10)} \\(its push was cut short after the deployment began\\); recorded now`));
    assert.equal((await p.api('GET', `${apps}/shop/deployments`)).body.length, releases, 'no release is built again');
    const remote = git(repo, 'ls-remote', `http://dev:${p.token}@127.0.0.1:${p.port}/git/dev/shop.git`, 'refs/heads/main');
    assert.equal(remote.split(/\s/)[0], sha, 'the repository records the commit that runs');
  });
});
