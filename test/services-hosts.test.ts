import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, execIn, gitPush, Platform, requestLoop, runCli } from './support/platform';

/**
 * An app of two web services pushed with git: `front` answers at the app's host name, `admin` at a host name of its
 * own. The router sends that host to admin's gears; a push, a rollback and a scale of admin keep it answering; a host
 * name another app holds, or another app's own host name, is refused with the push; a release that no longer names
 * the host frees it for others. A worker built from its folder's own Dockerfile has a volume, which is part of the
 * app's snapshot and comes back with a restore; a cron entry that runs in the worker records it with each run.
 */

const APP = '/domains/dev/apps/svh';
const HOST = 'svh-dev.localhost';
const ADMIN = 'admin.svh.test';

const descriptor = (adminHosts: string) => `name: svh
cartridges: []
services:
  front:
    kind: web
    build: ./web
    port: 3000
    env: { WHO: front }
  admin:
    kind: web
    build: ./web
    port: 3000
    env: { WHO: admin }
    hosts: [${adminHosts}]
  store:
    kind: worker
    build: ./store
    command: while true; do sleep 5; done
    volumes: [{ name: files, path: /data }]
cron:
  - schedule: "*/10 * * * * *"
    command: echo "in $GEARSHIFT_SERVICE"
    service: store
`;

const SERVER = `const http = require('node:http');
const version = require('./version');
http.createServer((req, res) => res.end(\`\${process.env.WHO} \${version}\`)).listen(Number(process.env.PORT));
`;

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, '-c', 'user.email=dev@example.com', '-c', 'user.name=dev', ...args], { encoding: 'utf8' });
}

describe('web services with host names of their own', { timeout: 900_000 }, () => {
  let p: Platform;
  const repo = mkdtempSync(join(tmpdir(), 'gearshift-svchosts-'));

  const commit = (version: string, adminHosts: string) => {
    const files = {
      'gearshift.yml': descriptor(adminHosts),
      'web/package.json': JSON.stringify({ name: 'web', version: '1.0.0', scripts: { start: 'node server.js' } }),
      'web/server.js': SERVER,
      'web/version.js': `module.exports = '${version}';\n`,
      // A folder with a Dockerfile of its own, on the platform's base image.
      'store/Dockerfile': 'ARG GEARSHIFT_BASE_IMAGE\nFROM ${GEARSHIFT_BASE_IMAGE}\n',
    };
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(repo, name, '..'), { recursive: true });
      writeFileSync(join(repo, name), text);
    }
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', `release ${version}`, '--allow-empty');
  };
  const push = () => gitPush(repo, `http://dev:${p.token}@127.0.0.1:${p.port}/git/dev/svh.git`);
  const answers = (host: string, want: string) => p.answers(host, want);

  before(async () => {
    // Its cron entry runs every few seconds, finer than the minute a schedule may be by default.
    p = await Platform.start('services-hosts', { node1: {} }, { router: true, env: { GEARSHIFT_CRON_MIN_INTERVAL_S: '1' } });
    assert.equal((await p.api('POST', '/domains', { name: 'dev' })).status, 201);
    for (const name of ['svh', 'other']) {
      const created = await p.api('POST', '/domains/dev/apps?wait=60', { name, cartridges: [] });
      assert.equal(created.status, 202, JSON.stringify(created.body));
    }
    git(repo, 'init', '-q', '-b', 'main');
  });
  after(async () => {
    await p?.stop();
    rmSync(repo, { recursive: true, force: true });
  });

  it("routes a web service's own host name to its gears, beside the app's host name, and lists it with the service", async () => {
    commit('1', ADMIN);
    const pushed = await push();
    assert.ok(pushed.ok, pushed.output);
    await answers(HOST, 'front 1');
    await answers(ADMIN, 'admin 1');
    const app = (await p.api('GET', APP)).body;
    const admin = app.services.find((s: { name: string }) => s.name === 'admin');
    assert.deepEqual(admin.hosts, [ADMIN]);
    assert.equal(app.services.find((s: { name: string }) => s.name === 'front').hosts, undefined);
    // The host is held: another app cannot take it as an alias, and its own alias list does not show it.
    const taken = await p.api('POST', '/domains/dev/apps/other/aliases', { host: ADMIN });
    assert.equal(taken.status, 409, JSON.stringify(taken.body));
    assert.deepEqual((await p.api('GET', `${APP}/aliases`)).body, []);
    const removed = await p.api('DELETE', `${APP}/aliases/${ADMIN}`);
    assert.equal(removed.status, 422, JSON.stringify(removed.body));
    assert.equal(removed.body.details[0].rule, 'service-host');
  });

  it("refuses with the push a host name another app holds, and another app's own host name", async () => {
    assert.equal((await p.api('POST', '/domains/dev/apps/other/aliases', { host: 'www.svh.test' })).status, 201);
    commit('x', `${ADMIN}, www.svh.test`);
    const held = await push();
    assert.equal(held.ok, false, held.output);
    assert.match(held.output, /\/services\/admin\/hosts\/1\b/);
    assert.match(held.output, /www\.svh\.test/);
    commit('x', 'other-dev.localhost');
    const theirs = await push();
    assert.equal(theirs.ok, false, theirs.output);
    assert.match(theirs.output, /\/services\/admin\/hosts\/0\b/);
    await answers(ADMIN, 'admin 1');
    assert.equal((await p.api('GET', `${APP}/deployments`)).body.length, 1, 'no release was made of a refused push');
  });

  it('keeps the host answering through a push, a rollback and a scale of its service: no request fails', async () => {
    const loop = requestLoop(p, ADMIN, (body) => body.trim());
    try {
      commit('2', ADMIN);
      const pushed = await push();
      assert.ok(pushed.ok, pushed.output);
      await answers(ADMIN, 'admin 2');
      const back = await p.api('POST', `${APP}/deployments/1/activate?wait=180`);
      assert.equal(back.body.operation.state, 'succeeded', JSON.stringify(back.body.operation));
      await answers(ADMIN, 'admin 1');
      const scaled = await p.api('PUT', `${APP}/scale?wait=120`, { service: 'admin', replicas: 2 });
      assert.equal(scaled.body.operation?.state, 'succeeded', JSON.stringify(scaled.body));
      await eventually(
        'two admin gears to serve',
        async () => {
          const app = (await p.api('GET', APP)).body;
          return app.gears.filter((g: { service?: string; state: string }) => g.service === 'admin' && g.state === 'running').length === 2;
        },
        60_000,
        500,
      );
    } finally {
      const ok = await loop.stop();
      assert.deepEqual(loop.failures, []);
      assert.ok(ok > 20, `only ${ok} requests were served`);
      assert.deepEqual([...loop.seen].sort(), ['admin 1', 'admin 2']);
    }
    await answers(HOST, 'front 1');
  });

  it('moves the route with the host names a release names, and frees the one it drops', async () => {
    commit('3', 'ops.svh.test');
    const pushed = await push();
    assert.ok(pushed.ok, pushed.output);
    await answers('ops.svh.test', 'admin 3');
    await eventually(`${ADMIN} to be no app's`, async () => (await p.viaRouter(ADMIN, '/').catch(() => null))?.status === 404, 30_000, 250);
    const app = (await p.api('GET', APP)).body;
    assert.deepEqual(app.services.find((s: { name: string }) => s.name === 'admin').hosts, ['ops.svh.test']);
    const taken = await p.api('POST', '/domains/dev/apps/other/aliases', { host: ADMIN });
    assert.equal(taken.status, 201, JSON.stringify(taken.body));
  });

  it("takes a service's volume into the app's snapshot, and puts its files back with a restore", async () => {
    const gear = (await p.api('GET', APP)).body.gears.find((g: { service?: string; state: string }) => g.service === 'store' && g.state === 'running');
    assert.ok(gear, 'a running gear of the store service');
    const [container] = await p.containers({ 'gearshift.gear': gear.id });
    await execIn(container.Id, ['sh', '-c', 'echo kept > /data/note.txt']);
    const auth = { authorization: `Bearer ${p.token}` };
    const taken = await fetch(`${p.baseUrl}/api/v1${APP}/snapshots`, { method: 'POST', headers: auth });
    assert.equal(taken.status, 200, await taken.clone().text());
    const archive = Buffer.from(await taken.arrayBuffer());
    const dir = mkdtempSync(join(tmpdir(), 'gearshift-svchosts-snap-'));
    try {
      writeFileSync(join(dir, 's.tgz'), archive);
      assert.match(execFileSync('tar', ['-tzf', join(dir, 's.tgz')], { encoding: 'utf8' }), /^(\.\/)?services\/store\/volumes\/files\.tar\.gz$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await execIn(container.Id, ['sh', '-c', 'echo changed > /data/note.txt']);
    const restored = await fetch(`${p.baseUrl}/api/v1${APP}/snapshots/restore?wait=120`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/gzip' },
      body: archive,
    });
    const body = (await restored.json()) as { operation: { state: string; error: string | null }; restores: string[] };
    assert.equal(body.operation.state, 'succeeded', JSON.stringify(body));
    assert.deepEqual(body.restores, ['service store']);
    assert.equal((await execIn(container.Id, ['cat', '/data/note.txt'])).trim(), 'kept');
  });

  it('records the service each cron run ran in, and gearshift cron shows it', async () => {
    const run = await eventually(
      'a cron run in the store service',
      async () => {
        const v = (await p.api('GET', `${APP}/cron`)).body as { entries: { runs: { state: string; service: string | null; output: string }[] }[] };
        return v.entries[0]?.runs.find((r) => r.state === 'succeeded');
      },
      60_000,
      1000,
    );
    assert.deepEqual([run.service, run.output.trim()], ['store', 'in store']);
    const home = mkdtempSync(join(tmpdir(), 'gearshift-svchosts-cli-'));
    try {
      const login = await runCli(p, home, ['login', '--password-stdin'], `${p.adminPassword}\n`);
      assert.equal(login.code, 0, login.stderr);
      const out = await runCli(p, home, ['cron', 'svh', '-d', 'dev']);
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /^COMMAND\s+DUE\s+RELEASE\s+IN\s+TOOK\s+OUTCOME$/m);
      assert.match(out.stdout, /^echo "in \$GEARSHIFT_SERVICE"\s+\S+ \S+\s+\d+\s+service store\s+\d+\.\ds\s+exit 0$/m);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('plans the services a file adds, removes and changes against the release that serves; the next push makes them so', async () => {
    const apply = async (yaml: string, query: string) => {
      const res = await fetch(`${p.baseUrl}/api/v1/domains/dev/apply${query}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${p.token}`, 'content-type': 'text/yaml' },
        body: yaml,
      });
      return {
        status: res.status,
        body: (await res.json()) as { plan: { action: string; target: string; from?: unknown; to?: unknown }[]; operation?: unknown },
      };
    };
    const same = await apply(descriptor('ops.svh.test'), '?dryRun=true');
    assert.equal(same.status, 200, JSON.stringify(same.body));
    assert.deepEqual(same.body.plan, []);
    const changed = descriptor('ops.svh.test')
      .replace('env: { WHO: front }', 'env: { WHO: front2 }')
      .replace(/ {2}store:\n( {4}.*\n)+/, '  extra:\n    kind: worker\n    image: gearshift/base:trixie\n')
      .replace(/cron:\n(.*\n)*$/, '');
    const plan = await apply(changed, '?dryRun=true');
    assert.equal(plan.status, 200, JSON.stringify(plan.body));
    assert.deepEqual(
      plan.body.plan.map((i) => `${i.action} ${i.target}`),
      // Its cron entry ran in the store service, and leaves with it.
      ['change service front', 'add service extra', 'remove service store', 'remove cron echo "in $GEARSHIFT_SERVICE"'],
    );
    assert.deepEqual([plan.body.plan[0].from, plan.body.plan[0].to], [{ env: { WHO: 'front' } }, { env: { WHO: 'front2' } }]);
    // Applied, the file changes nothing yet: the services come with the code.
    const applied = await apply(changed, '?wait=30');
    assert.equal(applied.body.operation, null, JSON.stringify(applied.body));
    assert.equal(applied.body.plan.length, 4);
  });
});
