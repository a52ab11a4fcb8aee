import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, gitPush, Platform, sleep } from './support/platform';

/**
 * An app of named services only, created empty and pushed with git: a web service built from ./web (Node.js, no
 * Dockerfile: the runtime is detected from its folder), an internal service from ./echo that the web one calls by
 * its name on the app's network, and a worker that runs an image. One push builds both images and rolls every
 * service out; the next push replaces every service's gears; a rollback brings every service back to the earlier
 * release; a service a release no longer names goes.
 */

const APP = '/domains/dev/apps/svc';
const HOST = 'svc-dev.localhost';

const DESCRIPTOR = `name: svc
cartridges: []
env: { ECHO_TOKEN: tok-secret-1234 }
services:
  web:
    kind: web
    build: ./web
    port: 3000
    dependsOn: [echo]
  echo:
    kind: internal
    build: ./echo
    port: 7000
    env: { SAYING: hello }
  ticker:
    kind: worker
    image: gearshift/base:trixie
    command: while true; do echo tick; sleep 5; done
`;

const WEB = `const http = require('node:http');
const version = require('./version');
http
  .createServer((req, res) => {
    http
      .get('http://echo:7000/', (r) => {
        let body = '';
        r.on('data', (c) => (body += c));
        r.on('end', () => res.end(\`web \${version} / \${body}\`));
      })
      .on('error', (err) => {
        res.statusCode = 502;
        res.end(\`web \${version} / echo unreachable: \${err.message}\`);
      });
  })
  .listen(Number(process.env.PORT));
`;

const ECHO = `const http = require('node:http');
const version = require('./version');
console.log(\`echo starts with token \${process.env.ECHO_TOKEN}\`);
http.createServer((req, res) => res.end(\`echo \${version} says \${process.env.SAYING}\`)).listen(7000);
`;

const pkg = (name: string) => JSON.stringify({ name, version: '1.0.0', scripts: { start: 'node server.js' } });

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, '-c', 'user.email=dev@example.com', '-c', 'user.name=dev', ...args], { encoding: 'utf8' });
}

type GearSeen = { service?: string; release: number | null; state: string; cartridge: string };

describe('named services run', { timeout: 900_000 }, () => {
  let p: Platform;
  const repo = mkdtempSync(join(tmpdir(), 'gearshift-svcrun-'));

  const write = (files: Record<string, string>) => {
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(repo, name, '..'), { recursive: true });
      writeFileSync(join(repo, name), text);
    }
  };
  const commit = (version: string, files: Record<string, string> = {}) => {
    write({ 'web/version.js': `module.exports = '${version}';\n`, 'echo/version.js': `module.exports = '${version}';\n`, ...files });
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', `release ${version}`);
  };
  const push = () => gitPush(repo, `http://dev:${p.token}@127.0.0.1:${p.port}/git/dev/svc.git`);
  const serving = (want: string) => p.answers(HOST, want);
  const gears = async () => ((await p.api('GET', APP)).body.gears as GearSeen[]).filter((g) => g.service);
  const byService = (all: GearSeen[]) =>
    Object.fromEntries(
      [...new Set(all.map((g) => g.service!))].sort().map((s) => [s, all.filter((g) => g.service === s).map((g) => `${g.release}:${g.state}`)]),
    );
  /** Waits for the app's service gears to be these (a worker reports running with the node's next beat). */
  const runningGears = async (want: Record<string, string[]>) => {
    await eventually('the service gears to run', async () => JSON.stringify(byService(await gears())) === JSON.stringify(want), 60_000, 500).catch(
      () => undefined,
    );
    assert.deepEqual(byService(await gears()), want);
  };

  before(async () => {
    p = await Platform.start('services-run', { node1: {} }, { router: true });
    assert.equal((await p.api('POST', '/domains', { name: 'dev' })).status, 201);
    const created = await p.api('POST', '/domains/dev/apps?wait=60', { name: 'svc', cartridges: [] });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    git(repo, 'init', '-q', '-b', 'main');
    write({
      'gearshift.yml': DESCRIPTOR,
      'web/package.json': pkg('web'),
      'web/server.js': WEB,
      'echo/package.json': pkg('echo'),
      'echo/server.js': ECHO,
      'web/Procfile': 'release: echo "release step of $GEARSHIFT_RELEASE for $GEARSHIFT_SERVICE"\n',
    });
  });
  after(async () => {
    await p?.stop();
    rmSync(repo, { recursive: true, force: true });
  });

  it('builds every service from its folder and rolls them out in one push: the web service reaches the internal one by name', async () => {
    commit('1');
    const pushed = await push();
    assert.ok(pushed.ok, pushed.output);
    assert.match(pushed.output, /service web: detected Node\.js in \.\/web \(package\.json\)/);
    assert.match(pushed.output, /building service echo from \.\/echo/);
    // The release step of the web service's Procfile runs once, in its new image, before the release takes traffic.
    assert.match(pushed.output, /release: release step of 1 for web/);
    await serving('web 1 / echo 1 says hello');
    const app = (await p.api('GET', APP)).body;
    assert.deepEqual(app.cartridges, []);
    await runningGears({ echo: ['1:running'], ticker: ['1:running'], web: ['1:running'] });
    assert.deepEqual(
      app.services.map((s: { name: string; gears: number; release: number }) => `${s.name} ${s.gears} ${s.release}`),
      ['echo 1 1', 'ticker 1 1', 'web 1 1'],
    );
    const [release] = (await p.api('GET', `${APP}/deployments`)).body;
    assert.deepEqual(Object.keys(release.services).sort(), ['echo', 'ticker', 'web']);
    assert.equal(release.services.ticker.image, 'gearshift/base:trixie');
    assert.match(release.services.web.image, /:1-web$/);
  });

  it('replaces the gears of every service with the next push, and a rollback brings every one back', async () => {
    commit('2');
    const pushed = await push();
    assert.ok(pushed.ok, pushed.output);
    await serving('web 2 / echo 2 says hello');
    await runningGears({ echo: ['2:running'], ticker: ['2:running'], web: ['2:running'] });

    const back = await p.api('POST', `${APP}/deployments/1/activate?wait=180`);
    assert.equal(back.body.operation.state, 'succeeded', JSON.stringify(back.body.operation));
    await serving('web 1 / echo 1 says hello');
    await runningGears({ echo: ['1:running'], ticker: ['1:running'], web: ['1:running'] });
  });

  it("scales one service by name, which keeps the number, and shows one service's output alone", async () => {
    const scaled = await p.api('PUT', `${APP}/scale?wait=120`, { service: 'ticker', replicas: 2 });
    assert.equal(scaled.body.operation?.state, 'succeeded', JSON.stringify(scaled.body));
    assert.equal(scaled.body.services.find((s: { name: string }) => s.name === 'ticker').scale, 2);
    await runningGears({ echo: ['1:running'], ticker: ['1:running', '1:running'], web: ['1:running'] });
    const unknown = await p.api('PUT', `${APP}/scale`, { service: 'clock', replicas: 1 });
    assert.equal(unknown.status, 422, JSON.stringify(unknown.body));
    assert.equal(unknown.body.details[0].rule, 'known-service');

    const logs = await eventually(
      'the worker to tick',
      async () => {
        const res = await p.api('GET', `${APP}/logs?tail=5&service=ticker`);
        return /^\[ticker [0-9a-f]{8}\] tick$/m.test(res.body) && res;
      },
      30_000,
      1000,
    );
    assert.doesNotMatch(logs.body, /^\[(web|echo) /m, 'no other service among its lines');
  });

  /** A one-off command (run) or a command in a gear (exec) through the API: the lines of JSON it answered. */
  const command = async (kind: 'run' | 'exec', body: unknown) => {
    const res = await p.api('POST', `${APP}/${kind}`, body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return (res.body as string)
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { line?: string; exitCode?: number });
  };

  it("runs a one-off command in a service's image with its environment, by default the web service's", async () => {
    const run = (body: unknown) => command('run', body);
    const inEcho = await run({ command: ['sh', '-c', 'echo "$SAYING from $GEARSHIFT_SERVICE"; exit 3'], service: 'echo' });
    assert.deepEqual(
      inEcho.map((m) => m.line ?? m.exitCode),
      ['hello from echo', 3],
    );
    const byDefault = await run({ command: ['sh', '-c', 'echo "$GEARSHIFT_SERVICE saying ${SAYING:-nothing}"; cat version.js'] });
    assert.deepEqual(
      byDefault.map((m) => m.line ?? m.exitCode),
      ['web saying nothing', "module.exports = '1';", 0],
    );
  });

  it('runs gearshift exec in the service at the app host by default, or in the one named; logs hide its secrets', async () => {
    const exec = async (body: unknown) => (await command('exec', body)).map((m) => m.line ?? m.exitCode);
    assert.deepEqual(await exec({ command: ['sh', '-c', 'echo in $GEARSHIFT_SERVICE'] }), ['in web', 0]);
    assert.deepEqual(await exec({ command: ['sh', '-c', 'echo in $GEARSHIFT_SERVICE'], service: 'echo' }), ['in echo', 0]);
    const unknown = await p.api('POST', `${APP}/exec`, { command: ['true'], service: 'nope' });
    assert.equal(unknown.status, 422, JSON.stringify(unknown.body));
    assert.equal(unknown.body.details[0].rule, 'known-service');
    // A name the app has none of is said, with the names it has, rather than answered with an empty log.
    const noLogs = await p.api('GET', `${APP}/logs?tail=5&service=nope`);
    assert.equal(noLogs.status, 422, JSON.stringify(noLogs.body));
    assert.match(noLogs.body.message, /has no service nope; it has echo, ticker, web/);
    // What a service prints of a secret-named variable is hidden from everyone who reads its logs.
    const logs = await eventually(
      "the echo service's first line",
      async () => {
        const res = await p.api('GET', `${APP}/logs?tail=50&service=echo`);
        return /echo starts with token/.test(res.body) && (res.body as string);
      },
      20_000,
      500,
    );
    assert.match(logs, /echo starts with token \*{6}/);
    assert.doesNotMatch(logs, /tok-secret-1234/);
  });

  it('removes a service a release no longer names, and keeps the others serving', async () => {
    write({ 'gearshift.yml': DESCRIPTOR.replace(/ {2}ticker:\n(.*\n){3}/, '') });
    commit('3');
    const pushed = await push();
    assert.ok(pushed.ok, pushed.output);
    await serving('web 3 / echo 3 says hello');
    await runningGears({ echo: ['3:running'], web: ['3:running'] });
  });

  it('fails the whole release when one service never gets healthy: every service keeps its old gears serving', async () => {
    write({
      'gearshift.yml': DESCRIPTOR.replace(/ {2}ticker:\n(.*\n){3}/, '').replace(
        '    env: { SAYING: hello }\n',
        '    env: { SAYING: hello }\n    health: { timeoutSeconds: 15 }\n',
      ),
      'echo/server.js': `process.exit(1);\n${ECHO}`,
    });
    commit('4');
    const pushed = await push();
    assert.equal(pushed.ok, false, pushed.output);
    assert.match(pushed.output, /rolling back|rolled back/);
    await serving('web 3 / echo 3 says hello');
    await runningGears({ echo: ['3:running'], web: ['3:running'] });
    const [latest] = (await p.api('GET', `${APP}/deployments`)).body;
    assert.deepEqual([latest.number, latest.state], [4, 'failed']);
  });

  it('fails a push whose one service does not build, naming that service, while the others built beside it', async () => {
    const services = DESCRIPTOR.replace(/ {2}ticker:\n(.*\n){3}/, '');
    write({ 'gearshift.yml': services, 'echo/server.js': ECHO, 'web/package.json': '{ "name": "web", ' });
    commit('5');
    const pushed = await push();
    assert.equal(pushed.ok, false, pushed.output);
    assert.match(pushed.output, /service web: .*(failed|returned a non-zero code)/);
    assert.doesNotMatch(pushed.output, /service echo: .*(failed|returned a non-zero code)/);
    // Both built at once: each line of their output says whose it is.
    assert.match(pushed.output, /web \| package\.json is not valid JSON/);
    await serving('web 3 / echo 3 says hello');
  });

  it('reuses the image of a service whose folder did not change since an earlier release, and builds the others', async () => {
    // The echo folder is as release 3 had it; only the web service changes.
    write({ 'web/package.json': pkg('web'), 'echo/version.js': "module.exports = '3';\n" });
    write({ 'web/version.js': "module.exports = '6';\n" });
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'release 6 of the web service alone');
    const pushed = await push();
    assert.ok(pushed.ok, pushed.output);
    assert.match(pushed.output, /service echo: unchanged since an earlier release, reusing its image \S+/);
    assert.doesNotMatch(pushed.output, /service echo: building the image/);
    assert.match(pushed.output, /service web: image \S+ built in/);
    await serving('web 6 / echo 3 says hello');
    await runningGears({ echo: ['6:running'], web: ['6:running'] });
  });

  it('fails the release when a worker crashes at start, naming the service and what it printed; the old release keeps serving', async () => {
    write({
      'gearshift.yml': DESCRIPTOR.replace('command: while true; do echo tick; sleep 5; done', 'command: echo no queue configured; exit 1'),
      'echo/server.js': ECHO,
    });
    commit('7');
    const pushed = await push();
    assert.equal(pushed.ok, false, pushed.output);
    assert.match(pushed.output, /service ticker, gear [0-9a-f]{8} did not keep running for 3 s: [^\n]*; it printed:\s+remote:\s+no queue configured/);
    assert.doesNotMatch(pushed.output, /release 7 is active/);
    await serving('web 6 / echo 3 says hello');
    const [latest] = (await p.api('GET', `${APP}/deployments`)).body;
    assert.deepEqual([latest.number, latest.state], [7, 'failed']);
  });

  it('refuses at once, with the whole need and what the nodes have, a push, a scale and a plan that cannot fit the nodes', async () => {
    const before = (await gears()).map((g) => `${g.service}:${g.release}`).sort();
    const deployments = (await p.api('GET', `${APP}/deployments`)).body.length;
    // A new worker of 100 gears beside the services the app runs.
    const big = `${DESCRIPTOR}  jobs:\n    kind: worker\n    image: gearshift/base:trixie\n    command: sleep 100000\n    scale: 100\n`;
    // 100 gears of 256 MB are more than the node's memory (80% of this machine's): the need and the room are named.
    const need = /needs 10\d gears of 256 MB \(2\d\.\d GB\); the nodes can take \d+ more \(\d+\.\d GB free on 1 node\)/;

    const plan = await fetch(`${p.baseUrl}/api/v1/domains/dev/apply?dryRun=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${p.token}`, 'content-type': 'text/yaml' },
      body: big,
    });
    const planned = (await plan.json()) as { fits: boolean; warnings?: string[] };
    assert.equal(plan.status, 200, JSON.stringify(planned));
    assert.equal(planned.fits, false, JSON.stringify(planned));
    assert.match(planned.warnings?.join('\n') ?? '', need);

    const scaled = await p.api('PUT', `${APP}/scale`, { service: 'echo', replicas: 100 });
    assert.equal(scaled.status, 422, JSON.stringify(scaled.body));
    assert.equal(scaled.body.code, 'capacity_exceeded', JSON.stringify(scaled.body));
    assert.deepEqual([scaled.body.details[0].pointer, scaled.body.details[0].rule], ['/replicas', 'node-capacity']);
    assert.match(scaled.body.message, /service "echo" at 100 replicas needs 99 more gears of 256 MB \(.+\); the nodes can take \d+ more \(.+ free on 1 node\)/);

    write({ 'gearshift.yml': big });
    commit('8');
    const started = Date.now();
    const pushed = await push();
    assert.equal(pushed.ok, false, pushed.output);
    assert.ok(Date.now() - started < 60_000, `the push failed after ${Date.now() - started} ms`);
    assert.match(pushed.output, need);
    // Nothing of it was made: no release, no gear; the one before serves on.
    assert.equal((await p.api('GET', `${APP}/deployments`)).body.length, deployments);
    assert.deepEqual((await gears()).map((g) => `${g.service}:${g.release}`).sort(), before);
    await serving('web 6 / echo 3 says hello');
  });

  it('refuses an environment change that makes a worker service crash at start: every service keeps its old gears, the same containers', async () => {
    const ticking = 'command: while sleep ${TICK_SECONDS:-5}; do echo tick; done; echo "TICK_SECONDS is not a number of seconds"; exit 1';
    write({ 'gearshift.yml': DESCRIPTOR.replace('command: while true; do echo tick; sleep 5; done', ticking), 'echo/server.js': ECHO });
    commit('8');
    const pushed = await push();
    assert.ok(pushed.ok, pushed.output);
    await serving('web 8 / echo 8 says hello');
    await runningGears({ echo: ['8:running'], ticker: ['8:running'], web: ['8:running'] });
    const containers = async () => (await p.containers({ 'gearshift.app-name': 'svc' })).map((c) => `${c.Id} ${c.State}`).sort();
    const before = await containers();
    const res = await p.api('PATCH', `${APP}/env?wait=180`, { TICK_SECONDS: 'soon' });
    const op = res.body.operation;
    assert.equal(op?.state, 'failed', JSON.stringify(res.body));
    assert.match(op.error, /the environment change was rolled back: .*service ticker, gear [0-9a-f]{8}[^]*TICK_SECONDS is not a number of seconds/);
    assert.equal((await p.api('GET', `${APP}/env`)).body.env.TICK_SECONDS, undefined, 'the app did not take the environment');
    await sleep(1500);
    await serving('web 8 / echo 8 says hello');
    assert.deepEqual(await containers(), before, 'the old gears are the containers that ran before, never restarted');
    await runningGears({ echo: ['8:running'], ticker: ['8:running'], web: ['8:running'] });
  });
});
