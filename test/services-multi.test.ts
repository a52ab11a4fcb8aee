import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, gitPush, Platform, ROOT, runCli } from './support/platform';

/**
 * An app of several services from one repository, pushed with git: an API (Node.js, no Dockerfile) that queues jobs
 * on Redis, a worker that takes them and writes their rows to PostgreSQL, an internal service the API calls by its
 * name, a cron entry that writes a row on its schedule and a Procfile `release:` that migrates the database once per
 * deployment; PostgreSQL and Valkey from the catalogue. Each service is built from its folder on the runtime detected
 * there, with no web cartridge; the release line, cron entries and one-off commands run in the API's image. Every
 * service of a push is built and rolled out by one operation and answers through the router; a rollback takes every
 * service back; `gearshift run` gives a command's output and exit code; the compose form of the same repository,
 * pushed to another empty app, deploys every service from its folder and answers the same.
 */

const FIXTURE = join(ROOT, 'test/fixtures/services-app');
/** The compose form of the fixture, kept in the importer's corpus (compose.spec.ts expects exactly what it plans). */
const COMPOSE = join(ROOT, 'test/fixtures/compose/services-app/compose.yaml');
const APP = '/domains/dev/apps/jobs';
const HOST = 'jobs-dev.localhost';
const COMPOSED = '/domains/dev/apps/composed';
const COMPOSED_HOST = 'composed-dev.localhost';

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, '-c', 'user.email=dev@example.com', '-c', 'user.name=dev', ...args], { encoding: 'utf8' });
}

interface Push {
  ok: boolean;
  output: string;
}

/** A request through the router with the Host header an app answers to, with a body when one is given. */
function viaRouter(port: number, host: string, method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { host }, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

interface CronView {
  release: number | null;
  entries: { schedule: string; command: string; runs: { state: string; exitCode: number | null; output: string; release: number }[] }[];
}

describe('an app of several services from one repository', { timeout: 1_200_000 }, () => {
  let p: Platform;
  const repo = mkdtempSync(join(tmpdir(), 'gearshift-services-multi-'));
  const composeRepo = mkdtempSync(join(tmpdir(), 'gearshift-services-compose-'));
  const home = mkdtempSync(join(tmpdir(), 'gearshift-services-multi-cli-'));
  /** The compose form's push, started once the first push has built (and cached) the services' dependencies. */
  let composed: Promise<Push> | undefined;

  const push = (dir: string, app: string): Promise<Push> => gitPush(dir, `http://dev:${p.token}@127.0.0.1:${p.port}/git/dev/${app}.git`);

  /** Changes what each service says (the API's answer, the internal service's words, the worker's name): code only. */
  const release = (version: string) => {
    writeFileSync(join(repo, 'api/answer.js'), `module.exports = 'api ${version}';\n`);
    const edit = (file: string, from: RegExp, to: string) => {
      const path = join(repo, file);
      writeFileSync(path, readFileSync(path, 'utf8').replace(from, to));
    };
    edit('internal/server.js', /internal v\d+ says hello/, `internal ${version} says hello`);
    edit('worker/worker.js', /worker v\d+/, `worker ${version}`);
    git(repo, 'commit', '-qam', `release ${version}`);
  };

  /** What the API answers at `path` through the router, once it answers `want`. */
  const answers = (host: string, path: string, want: string, ms = 120_000) =>
    eventually(
      `${host}${path} to answer "${want}"`,
      async () => {
        const res = await viaRouter(p.routerPort, host, 'GET', path).catch(() => null);
        return res?.status === 200 && res.body.trim() === want && res;
      },
      ms,
      250,
    ).catch(async (err: Error) => assert.fail(`${err.message}\n${await p.routingState(host === HOST ? APP : COMPOSED)}`));

  /** Queues a job through the router and waits for the worker's row, read back through the API. */
  const job = async (host: string, payload: string) => {
    const queued = await viaRouter(p.routerPort, host, 'POST', '/jobs', payload);
    assert.equal(queued.status, 202, queued.body);
    const { id } = JSON.parse(queued.body) as { id: string };
    const done = await eventually(
      `job ${id} to be done by the worker`,
      async () => {
        const res = await viaRouter(p.routerPort, host, 'GET', `/jobs/${id}`);
        return res.status === 200 && (JSON.parse(res.body) as { id: string; payload: string; doneBy: string });
      },
      60_000,
      250,
    );
    assert.equal(done.payload, payload);
    return done;
  };

  const count = async (host: string, what: 'ticks' | 'migrations') =>
    (JSON.parse((await viaRouter(p.routerPort, host, 'GET', `/${what}`)).body) as Record<string, number>)[what];

  /** The gears of the app's code, the web cartridge's and each service's (not its catalogue cartridges'): what, release, state. */
  const codeGears = async (app: string) =>
    ((await p.api('GET', app)).body.gears as { cartridge: string; service?: string | null; release: number | null; state: string }[])
      .filter((g) => g.release !== null)
      .map((g) => [g.service ?? g.cartridge, g.release, g.state])
      .sort();

  /** Waits for the app's code gears to be `want` (a rollout retires the old gears once the new ones serve). */
  const settles = async (app: string, want: (string | number | null)[][]) => {
    let seen: unknown;
    await eventually(
      `the gears of ${app} to be ${JSON.stringify(want)}`,
      async () => {
        seen = await codeGears(app);
        return JSON.stringify(seen) === JSON.stringify(want);
      },
      60_000,
      500,
    ).catch(() => assert.deepEqual(seen, want));
  };

  before(async () => {
    // The fixture's cron entry runs every 5 s, finer than the minute a schedule may be by default.
    p = await Platform.start('services-multi', { node1: {} }, { router: true, env: { GEARSHIFT_CRON_MIN_INTERVAL_S: '1' } });
    assert.equal((await p.api('POST', '/domains', { name: 'dev' })).status, 201);
    for (const name of ['jobs', 'composed']) {
      const created = await p.api('POST', '/domains/dev/apps?wait=60', { name, cartridges: [] });
      assert.equal(created.body.operation?.state, 'succeeded', JSON.stringify(created.body));
    }
    cpSync(FIXTURE, repo, { recursive: true });
    git(repo, 'init', '-q', '-b', 'main');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'initial commit');
    // The same code, described by a compose file instead of gearshift.yml.
    cpSync(FIXTURE, composeRepo, { recursive: true });
    rmSync(join(composeRepo, 'gearshift.yml'));
    cpSync(COMPOSE, join(composeRepo, 'compose.yaml'));
    git(composeRepo, 'init', '-q', '-b', 'main');
    git(composeRepo, 'add', '-A');
    git(composeRepo, 'commit', '-qm', 'initial commit');
  });
  after(async () => {
    await composed;
    await p?.stop();
    for (const dir of [repo, composeRepo, home]) rmSync(dir, { recursive: true, force: true });
  });

  it('builds and rolls out every service of a push in one operation, running the release step once', async () => {
    const r = await push(repo, 'jobs');
    assert.ok(r.ok, r.output);
    composed = push(composeRepo, 'composed');
    assert.match(r.output, /applying gearshift\.yml/);
    assert.match(r.output, /add cartridge postgresql-17/);
    assert.match(r.output, /add cartridge valkey-8/);
    // No Dockerfile anywhere: each service's runtime is told from the package.json in its folder.
    for (const s of ['api', 'internal', 'worker']) assert.match(r.output, new RegExp(`service ${s}: detected Node\\.js in \\./${s} \\(package\\.json\\)`));
    const deployments = (await p.api('GET', `${APP}/deployments`)).body as { number: number; state: string; operation: string }[];
    assert.deepEqual(
      deployments.map((d) => [d.number, d.state]),
      [[1, 'active']],
    );
    const op = (await p.api('GET', `/operations/${deployments[0].operation}`)).body as { kind: string; state: string; steps: { text: string }[] };
    assert.equal(op.kind, 'app.deploy');
    assert.equal(op.state, 'succeeded', JSON.stringify(op));
    // That one operation built every service's image.
    for (const s of ['api', 'internal', 'worker'])
      assert.ok(
        op.steps.some((x) => x.text.includes(`building service ${s} from ./${s}`)),
        JSON.stringify(op.steps.map((x) => x.text)),
      );
    const d = (await p.api('GET', `${APP}/deployments/1`)).body as { log: string };
    assert.equal(d.log.match(/migrated: tables jobs, ticks and migrations are in place \(migration run 1\)/g)?.length, 1, d.log);
    // Every service runs the release, each in gears of its own; the app has no web cartridge.
    await settles(APP, [
      ['api', 1, 'running'],
      ['internal', 1, 'running'],
      ['worker', 1, 'running'],
    ]);
  });

  it('queues a job through the API, which the worker writes to PostgreSQL; the API reaches the internal service by name', async () => {
    await answers(HOST, '/hello', 'api v1 heard: internal v1 says hello');
    assert.equal((await job(HOST, 'first job')).doneBy, 'worker v1');
    assert.equal(await count(HOST, 'migrations'), 1);
    // The internal service is not routed: the app's host name is the API's.
    assert.equal((await viaRouter(p.routerPort, HOST, 'GET', '/')).body.trim(), 'api v1');
  });

  it('runs the cron entry on its schedule in the release, keeping its output and exit code', async () => {
    const view = await eventually(
      'a cron run that ended with exit 0',
      async () => {
        const v = (await p.api<CronView>('GET', `${APP}/cron`)).body;
        return v.entries[0]?.runs.some((r) => r.state === 'succeeded') && v;
      },
      60_000,
      500,
    );
    assert.equal(view.entries[0].command, 'node tick.js');
    const ran = view.entries[0].runs.find((r) => r.state === 'succeeded')!;
    assert.equal(ran.exitCode, 0);
    assert.equal(ran.release, 1);
    assert.match(ran.output, /^tick \d+$/m);
    assert.ok((await count(HOST, 'ticks')) >= 1);
  });

  it('rolls every service forward with the next push, and back with a rollback', async () => {
    release('v2');
    const r = await push(repo, 'jobs');
    assert.ok(r.ok, r.output);
    await answers(HOST, '/hello', 'api v2 heard: internal v2 says hello');
    assert.equal((await job(HOST, 'second job')).doneBy, 'worker v2');
    assert.equal(await count(HOST, 'migrations'), 2, 'the release step ran once per deployment');
    const second = (await p.api('GET', `${APP}/deployments/2`)).body as { log: string; operation: string };
    assert.equal(second.log.match(/migrated: .*\(migration run 2\)/g)?.length, 1, second.log);
    assert.equal((await p.api('GET', `/operations/${second.operation}`)).body.kind, 'app.deploy');

    const back = await p.api('POST', `${APP}/deployments/1/activate?wait=300`);
    assert.equal(back.body.operation?.state, 'succeeded', JSON.stringify(back.body));
    await answers(HOST, '/hello', 'api v1 heard: internal v1 says hello', 30_000);
    assert.equal((await job(HOST, 'after the rollback')).doneBy, 'worker v1');
    await settles(APP, [
      ['api', 1, 'running'],
      ['internal', 1, 'running'],
      ['worker', 1, 'running'],
    ]);
    // A rollback deploys nothing new: the release step does not run again.
    assert.equal(await count(HOST, 'migrations'), 2);
  });

  it("prints a one-off command's output with gearshift run, in the API's image or another service's, and exits with its exit code", async () => {
    const login = await runCli(p, home, ['login', '--password-stdin'], `${p.adminPassword}\n`);
    assert.equal(login.code, 0, login.stderr);
    const ok = await runCli(p, home, ['run', 'jobs', '-d', 'dev', '--', 'node', '-e', 'console.log(require("./answer"), Boolean(process.env.DATABASE_URL))']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'api v1 true\n');
    // In another service's image, with --service.
    const worker = await runCli(p, home, ['run', 'jobs', '-d', 'dev', '--service', 'worker', '--', 'node', '-e', 'console.log(require("./package").name)']);
    assert.equal(worker.code, 0, worker.stderr);
    assert.equal(worker.stdout, 'jobs-worker\n');
    const failing = await runCli(p, home, ['run', 'jobs', '-d', 'dev', '--', 'sh', '-c', 'echo bye; exit 5']);
    assert.equal(failing.code, 5, failing.stderr);
    assert.equal(failing.stdout, 'bye\n');
  });

  it('deploys the compose form of the same repository to an empty app the same way, and it answers the same', async () => {
    const r = await composed!;
    assert.ok(r.ok, r.output);
    assert.match(r.output, /applying compose\.yaml/);
    assert.match(r.output, /add cartridge postgresql-17/);
    assert.match(r.output, /add cartridge redis-7/);
    const app = (await p.api('GET', COMPOSED)).body as { cartridges: string[] };
    assert.deepEqual([...app.cartridges].sort(), ['postgresql-17', 'redis-7']);
    const deployments = (await p.api('GET', `${COMPOSED}/deployments`)).body as { operation: string }[];
    assert.equal(deployments.length, 1);
    assert.equal((await p.api('GET', `/operations/${deployments[0].operation}`)).body.kind, 'app.deploy');
    await answers(COMPOSED_HOST, '/hello', 'api v1 heard: internal v1 says hello');
    assert.equal((await job(COMPOSED_HOST, 'composed job')).doneBy, 'worker v1');
    // The release line of the API's Procfile ran once, in the API service's image: it is first in start order to have one.
    assert.equal(await count(COMPOSED_HOST, 'migrations'), 1);
    for (const s of ['api', 'internal', 'worker']) assert.match(r.output, new RegExp(`service ${s}: detected Node\\.js in \\./${s} \\(package\\.json\\)`));
    await settles(COMPOSED, [
      ['api', 1, 'running'],
      ['internal', 1, 'running'],
      ['worker', 1, 'running'],
    ]);
  });
  it('applies the compose file again on later pushes: a broken one is refused by its field, a new catalogue service is added', async () => {
    const text = readFileSync(COMPOSE, 'utf8');
    const releases = async () => ((await p.api('GET', `${COMPOSED}/deployments`)).body as unknown[]).length;
    const before = await releases();
    // A file over the YAML limits is refused naming the file read, which the push says it applies.
    writeFileSync(join(composeRepo, 'compose.yaml'), `${text}x-a: &a x\nx-b: [${Array.from({ length: 101 }, () => '*a').join(', ')}]\n`);
    git(composeRepo, 'commit', '-qam', 'an alias bomb');
    const bomb = await push(composeRepo, 'composed');
    assert.equal(bomb.ok, false, bomb.output);
    assert.match(bomb.output, /compose\.yaml was not applied: compose\.yaml writes more than 100 aliases/);
    assert.equal(await releases(), before, 'nothing deployed');
    writeFileSync(
      join(composeRepo, 'compose.yaml'),
      text.replace('      cache:\n        condition: service_started', '      quueue:\n        condition: service_started'),
    );
    git(composeRepo, 'commit', '-qam', 'a typo');
    const refused = await push(composeRepo, 'composed');
    assert.equal(refused.ok, false, refused.output);
    assert.match(refused.output, /\/services\/worker\/depends_on depends on quueue, which the file does not define/);
    assert.doesNotMatch(refused.output, /does not say which runtime/);
    assert.equal(await releases(), before, 'nothing deployed');

    writeFileSync(join(composeRepo, 'compose.yaml'), `${text.replace(/\nvolumes:\n/, '\n  search:\n    image: mariadb:11\nvolumes:\n')}`);
    git(composeRepo, 'commit', '-qam', 'a search database');
    // The file is applied before the code is built: the cartridge joins the app whatever the release does next
    // (this one's release step speaks to PostgreSQL, and finds MariaDB's DATABASE_URL published beside it).
    const added = await push(composeRepo, 'composed');
    assert.match(added.output, /applying compose\.yaml\s+remote:\s+add cartridge mariadb-11\.8/);
    assert.ok(((await p.api('GET', COMPOSED)).body as { cartridges: string[] }).cartridges.includes('mariadb-11.8'));
  });
});
