import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { docker, eventually, gitPush, Platform, ROOT, runCli, sleep } from './support/platform';

/**
 * An app written as a Heroku app is: Node.js without a Dockerfile, a package.json and a Procfile with `web:`,
 * `worker:` and `release:`, pushed with git. The release line runs once per deployment before the release takes
 * traffic, the worker runs as a gear of its own and reports to the web process over the app's network, a failing
 * release line leaves the old release serving, a rollback takes the worker back too, and `run` gives a one-off
 * command's output and exit code through the API and the CLI.
 */

const FIXTURE = join(ROOT, 'test/fixtures/apps/procfile-worker');
const APP = '/domains/dev/apps/procs';
const HOST = 'procs-dev.localhost';

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, '-c', 'user.email=dev@example.com', '-c', 'user.name=dev', ...args], { encoding: 'utf8' });
}

type RunLine = { line?: string; stream?: string; exitCode?: number; error?: string };

describe('Procfile processes and one-off commands', { timeout: 900_000 }, () => {
  let p: Platform;
  const repo = mkdtempSync(join(tmpdir(), 'gearshift-procs-'));
  const home = mkdtempSync(join(tmpdir(), 'gearshift-procs-cli-'));

  const push = () => gitPush(repo, `http://dev:${p.token}@127.0.0.1:${p.port}/git/dev/procs.git`);

  const commit = (version: string, files: Record<string, string> = {}) => {
    writeFileSync(join(repo, 'version.js'), `module.exports = '${version}';\n`);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(repo, name), text);
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', `release ${version}`);
  };

  /** What the web process answers through the router: its version and the worker's last report. */
  const serving = (want: string, ms = 60_000) =>
    eventually(
      `the router to answer "${want}"`,
      async () => {
        const res = await p.viaRouter(HOST, '/').catch(() => null);
        return res?.body.trim() === want && res;
      },
      ms,
      250,
    );

  const run = async (body: unknown) => {
    const res = await p.api('POST', `${APP}/run`, body);
    const lines = typeof res.body === 'string' ? res.body.split('\n').filter(Boolean) : [JSON.stringify(res.body)];
    return { status: res.status, messages: lines.map((l) => JSON.parse(l) as RunLine) };
  };

  const gears = async () => (await p.api('GET', APP)).body.gears as { process?: string; release: number | null; state: string }[];

  before(async () => {
    p = await Platform.start('processes', { node1: {} }, { router: true, env: { GEARSHIFT_MAX_RUNS: '2' } });
    assert.equal((await p.api('POST', '/domains', { name: 'dev' })).status, 201);
    const created = await p.api('POST', '/domains/dev/apps?wait=120', { name: 'procs', cartridges: [], env: { GREETING: 'hello' } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    cpSync(FIXTURE, repo, { recursive: true });
    git(repo, 'init', '-q', '-b', 'main');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'initial commit');
  });
  after(async () => {
    await p?.stop();
    rmSync(repo, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  });

  it('refuses a one-off command before the app has a release, saying why (409)', async () => {
    const res = await p.api('POST', `${APP}/run`, { command: ['true'] });
    assert.equal(res.status, 409, JSON.stringify(res.body));
    assert.match(res.body.message, /has no release yet/);
  });

  it('runs the release line once before the release takes traffic, with its output in the deployment', async () => {
    const r = await push();
    assert.ok(r.ok, r.output);
    assert.match(r.output, /detected Node\.js \(package\.json\)/);
    assert.match(r.output, /release command: node release\.js \(the Procfile's release process/);
    assert.match(r.output, /process worker: node worker\.js \(runs as gears of its own, without a port\)/);
    const d = (await p.api('GET', `${APP}/deployments/1`)).body;
    assert.equal(d.state, 'active');
    assert.deepEqual(d.processes, { web: 'node web.js', worker: 'node worker.js', release: 'node release.js' });
    assert.equal(d.log.match(/release: release step for v1, greeting hello/g)?.length, 1, d.log);
    assert.match(r.output, /the Procfile's release process succeeded/);
  });

  it('runs the worker as a gear of its own, which reaches the web process; the web process answers through the router', async () => {
    await serving('web v1; worker v1');
    const all = await gears();
    assert.deepEqual(all.map((g) => [g.process ?? 'web', g.release]).sort(), [
      ['web', 1],
      ['worker', 1],
    ]);
    assert.equal((await p.api('GET', APP)).body.processes.worker, 1);
    // The worker's own output, by process type.
    const logs = await p.api('GET', `${APP}/logs?tail=20&process=worker`);
    assert.match(logs.body, /^\[nodejs-24 worker [0-9a-f]{8}\] worker v1 started$/m);
    assert.doesNotMatch(logs.body, /^\[nodejs-24 [0-9a-f]{8}\]/m, 'no web line among the worker lines');
  });

  it("runs a one-off command in the release with the app's environment and network, giving its output and exit code", async () => {
    const ok = await run({ command: ['node', '-e', 'console.log(require("./version"), process.env.GREETING); console.error("to stderr")'] });
    assert.equal(ok.status, 200);
    // Its stdout and stderr are two streams: which line comes first is the kernel's to say.
    assert.deepEqual(
      ok.messages
        .filter((m) => m.line !== undefined)
        .map((m) => `${m.stream}: ${m.line}`)
        .sort(),
      ['stderr: to stderr', 'stdout: v1 hello'],
    );
    assert.deepEqual(ok.messages.at(-1), { exitCode: 0 });
    // On the app's network: the web gears answer by name.
    const net = await run({
      command: [
        'node',
        '-e',
        'require("http").get("http://nodejs-24:8080/", (r) => r.pipe(process.stdout)).on("error", (e) => { console.log(e.message); process.exit(1); })',
      ],
    });
    assert.match(net.messages[0].line ?? '', /^web v1; worker/);
    assert.deepEqual(net.messages.at(-1), { exitCode: 0 });
    const bad = await run({ command: ['sh', '-c', 'echo failing; exit 7'], process: 'worker' });
    assert.deepEqual(bad.messages, [{ line: 'failing', stream: 'stdout' }, { exitCode: 7 }]);
    assert.equal((await p.api('POST', `${APP}/run`, { command: ['true'], process: 'clock' })).status, 422);
    assert.equal((await p.api('POST', `${APP}/run`, { command: [] })).status, 400);
    // Who ran what: the command, never the environment.
    const events = (await p.api('GET', '/audit?action=app.run')).body as { events?: unknown[] } | unknown[];
    const text = JSON.stringify(events);
    assert.match(text, /"command":\["sh","-c","echo failing; exit 7"\]/);
    assert.doesNotMatch(text, /hello/);
    // Nothing is left behind.
    assert.equal((await p.containers({ 'gearshift.role': 'run' })).length, 0);
  });

  it('lets one user run only GEARSHIFT_MAX_RUNS commands at once; the next is 429 and starts nothing', async () => {
    const long = [run({ command: ['sleep', '4'] }), run({ command: ['sleep', '4'] })];
    await eventually('both commands to run', async () => (await p.containers({ 'gearshift.role': 'run' })).length === 2, 30_000, 100);
    const third = await p.api('POST', `${APP}/run`, { command: ['true'] });
    assert.equal(third.status, 429);
    assert.equal(third.body.code, 'too_many_requests');
    assert.match(third.body.message, /GEARSHIFT_MAX_RUNS/);
    assert.equal((await p.containers({ 'gearshift.role': 'run' })).length, 2);
    for (const done of await Promise.all(long)) assert.deepEqual(done.messages.at(-1), { exitCode: 0 });
    // Once they end, the user may run again.
    assert.deepEqual((await run({ command: ['true'] })).messages.at(-1), { exitCode: 0 });
  });

  it("prints the output of gearshift run and exits with the command's exit code", async () => {
    const login = await runCli(p, home, ['login', '--password-stdin'], `${p.adminPassword}\n`);
    assert.equal(login.code, 0, login.stderr);
    const ok = await runCli(p, home, ['run', 'procs', '-d', 'dev', '--', 'node', '-e', 'console.log("from", require("./version"))']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'from v1\n');
    const failing = await runCli(p, home, ['run', 'procs', '-d', 'dev', '--', 'sh', '-c', 'echo bye; exit 5']);
    assert.equal(failing.code, 5, failing.stderr);
    assert.equal(failing.stdout, 'bye\n');
  });

  it('lists the worker beside the web gears, and gearshift exec --process runs a command in a gear of its type', async () => {
    const list = await runCli(p, home, ['apps', 'list', '-d', 'dev']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^procs\s+running\s+\S+\s+web:1,worker:1\s/m);
    // What each process of the gear runs, one a line: the gear's own program is node with its Procfile line's script.
    const programs = ['sh', '-c', 'for f in /proc/[0-9]*/cmdline; do tr "\\0" " " < $f; echo; done'];
    const program = async (args: string[]) => {
      const r = await runCli(p, home, ['exec', 'procs', '-d', 'dev', ...args, '--', ...programs]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.match(/node (web|worker)\.js/)?.[1];
    };
    assert.equal(await program(['--process', 'worker']), 'worker');
    assert.equal(await program(['--process', 'web']), 'web');
    assert.equal(await program([]), 'web', 'a web gear by default');
    const missing = await runCli(p, home, ['exec', 'procs', '-d', 'dev', '--process', 'clock', '--', 'true']);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /release 1 has no process clock; it has web, worker/);
    const both = await p.api('POST', `${APP}/exec`, { command: ['true'], process: 'worker', service: 'api' });
    assert.equal(both.status, 422, JSON.stringify(both.body));
    assert.match(both.body.message, /not service and process/);
  });

  it('rolls the worker forward with the next release', async () => {
    commit('v2');
    const r = await push();
    assert.ok(r.ok, r.output);
    assert.match(r.output, /release: release step for v2/);
    await serving('web v2; worker v2');
    assert.deepEqual((await gears()).map((g) => [g.process ?? 'web', g.release]).sort(), [
      ['web', 2],
      ['worker', 2],
    ]);
  });

  it('leaves the old release serving, worker and all, when the release line fails', async () => {
    commit('v3', { 'release.js': 'console.log("the migration failed"); process.exit(3);\n' });
    const r = await push();
    assert.ok(!r.ok, r.output);
    assert.match(r.output, /release: the migration failed/);
    const d = (await p.api('GET', `${APP}/deployments/3`)).body;
    assert.equal(d.state, 'failed');
    assert.match(d.error, /the Procfile's release process exited with code 3; the release was not rolled out/);
    assert.match(d.log, /release: the migration failed/);
    assert.equal((await p.api('GET', APP)).body.release, 2);
    await sleep(1500);
    await serving('web v2; worker v2', 5000);
    assert.deepEqual((await gears()).map((g) => [g.process ?? 'web', g.release]).sort(), [
      ['web', 2],
      ['worker', 2],
    ]);
  });

  it('refuses a push with both a release line and a deploy hook, which would do the same thing twice', async () => {
    mkdirSync(join(repo, '.gearshift/hooks'), { recursive: true });
    writeFileSync(join(repo, '.gearshift/hooks/deploy'), '#!/bin/sh\nnode release.js\n', { mode: 0o755 });
    commit('v4', { 'release.js': 'console.log("migrating");\n' });
    const r = await push();
    assert.ok(!r.ok, r.output);
    assert.match(r.output, /the Procfile's release process and the deploy hook both run once before each release takes traffic; keep one of them/);
    assert.equal((await p.api('GET', APP)).body.release, 2);
  });

  it('takes the worker back to the earlier release on a rollback, and scales it by process type', async () => {
    const back = await p.api('POST', `${APP}/deployments/1/activate?wait=180`);
    assert.equal(back.body.operation?.state, 'succeeded', JSON.stringify(back.body));
    await serving('web v1; worker v1');
    assert.deepEqual((await gears()).map((g) => [g.process ?? 'web', g.release]).sort(), [
      ['web', 1],
      ['worker', 1],
    ]);
    const scaled = await p.api('PUT', `${APP}/scale?wait=120`, { process: 'worker', replicas: 2 });
    assert.equal(scaled.body.operation?.state, 'succeeded', JSON.stringify(scaled.body));
    assert.equal(scaled.body.scale, 1, 'the web gears are not scaled');
    assert.equal(scaled.body.processes.worker, 2);
    await eventually('two worker containers running', async () => (await p.containers({ 'gearshift.process': 'worker' })).length === 2, 60_000);
    const none = await p.api('PUT', `${APP}/scale`, { process: 'clock', replicas: 1 });
    assert.equal(none.status, 422, JSON.stringify(none.body));
    assert.match(none.body.message, /no process clock/);
  });

  it('keeps a worker scaled to 0 at 0 through the next rollout', async () => {
    const zero = await p.api('PUT', `${APP}/scale?wait=120`, { process: 'worker', replicas: 0 });
    assert.equal(zero.body.operation?.state, 'succeeded', JSON.stringify(zero.body));
    assert.deepEqual(zero.body.processes, {});
    const again = await p.api('POST', `${APP}/deployments/2/activate?wait=180`);
    assert.equal(again.body.operation?.state, 'succeeded', JSON.stringify(again.body));
    await serving('web v2; worker none yet');
    assert.deepEqual(
      (await gears()).map((g) => g.process ?? 'web'),
      ['web'],
    );
  });

  it('fails a release whose worker crashes at start, naming it and what it printed: the old workers, the same containers, keep running', async () => {
    const scaled = await p.api('PUT', `${APP}/scale?wait=120`, { process: 'worker', replicas: 2 });
    assert.equal(scaled.body.operation?.state, 'succeeded', JSON.stringify(scaled.body));
    await serving('web v2; worker v2');
    const workers = async () => (await p.containers({ 'gearshift.process': 'worker' })).map((c) => `${c.Id} ${c.State}`).sort();
    const before = await eventually('two worker containers running', async () => {
      const now = await workers();
      return now.length === 2 && now.every((c) => c.endsWith(' running')) && now;
    });
    rmSync(join(repo, '.gearshift'), { recursive: true, force: true });
    commit('v5', {
      'worker.js': `if (!process.env.QUEUE_NAME) { console.error('FATAL: QUEUE_NAME is not set'); process.exit(1); }\n${readFileSync(join(FIXTURE, 'worker.js'), 'utf8')}`,
    });
    const r = await push();
    assert.ok(!r.ok, r.output);
    assert.match(r.output, /process worker, gear [0-9a-f]{8}[^]*FATAL: QUEUE_NAME is not set/);
    assert.doesNotMatch(r.output, /release \d+ is active/);
    const [latest] = (await p.api('GET', `${APP}/deployments`)).body as { number: number; state: string; error: string }[];
    assert.equal(latest.state, 'failed', JSON.stringify(latest));
    assert.match(latest.error, /was rolled back: .*process worker[^]*FATAL: QUEUE_NAME is not set/);
    assert.equal((await p.api('GET', APP)).body.release, 2);
    await sleep(1500);
    await serving('web v2; worker v2', 5000);
    assert.deepEqual(await workers(), before, 'the old workers are the containers that ran before, never restarted');
    assert.deepEqual((await gears()).map((g) => [g.process ?? 'web', g.release]).sort(), [
      ['web', 2],
      ['worker', 2],
      ['worker', 2],
    ]);
  });

  it('refuses an environment change that makes the worker crash at start, naming it: the old gears, the same containers, keep running', async () => {
    const containers = async () => (await p.containers({ 'gearshift.app-name': 'procs' })).map((c) => `${c.Id} ${c.State}`).sort();
    const before = await eventually('the web and two worker containers running', async () => {
      const now = await containers();
      return now.length === 3 && now.every((c) => c.endsWith(' running')) && now;
    });
    // The web process never reads the variable: only the fresh workers can tell that the change is bad.
    const res = await p.api('PATCH', `${APP}/env?wait=180`, { WORKER_CONCURRENCY: 'lots' });
    const op = res.body.operation;
    assert.equal(op?.state, 'failed', JSON.stringify(res.body));
    assert.match(op.error, /the environment change was rolled back: .*process worker, gear [0-9a-f]{8}[^]*FATAL: WORKER_CONCURRENCY must be a whole number/);
    const env = (await p.api('GET', `${APP}/env`)).body.env;
    assert.equal(env.WORKER_CONCURRENCY, undefined, 'the app did not take the environment its workers cannot start with');
    await sleep(1500);
    await serving('web v2; worker v2', 5000);
    assert.deepEqual(await containers(), before, 'the old gears are the containers that ran before, never restarted');
    assert.deepEqual((await gears()).map((g) => [g.process ?? 'web', g.release]).sort(), [
      ['web', 2],
      ['worker', 2],
      ['worker', 2],
    ]);
    // A value the workers start with rolls out to them and to the web gear alike.
    const good = await p.api('PATCH', `${APP}/env?wait=180`, { WORKER_CONCURRENCY: '4' });
    assert.equal(good.body.operation?.state, 'succeeded', JSON.stringify(good.body));
    const after = await containers();
    assert.equal(after.length, 3, after.join('\n'));
    assert.ok(
      after.every((c) => !before.includes(c)),
      'every gear was replaced by one started beside it',
    );
    for (const c of await p.containers({ 'gearshift.process': 'worker' })) {
      assert.ok((await docker.getContainer(c.Id).inspect()).Config.Env.includes('WORKER_CONCURRENCY=4'));
    }
  });
});
