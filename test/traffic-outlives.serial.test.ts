import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { eventually, Platform, ROOT, sleep } from './support/platform';
import { hostRequest, type ApiResponse } from './support/http';
import { freePort } from './support/processes';
import { removeInstance } from './support/docker';
import { clearRedisPrefix, createDatabase, databaseUrl, dropDatabase } from './support/stores';

const run = promisify(execFile);

/**
 * Traffic outlives the control plane: while about 20 requests a second go to an app through the router, neither a
 * kill -9 of the router nor `npm run down` followed by `npm run up -- --detach` fails one of them, because HAProxy
 * keeps serving without the router and the next router takes it over. A router that finds no HAProxy starts one
 * from the configuration last applied, before it has heard from Redis. Runs alone (see scripts/test.sh): the real
 * `npm run up` compiles the project in place.
 */

/** Requests to one host through a router, each on a new connection as visitors' would be, every 50 ms. */
class Load {
  readonly answers: { at: number; status: number }[] = [];
  private sending = true;
  private readonly done: Promise<void>;

  constructor(port: number, host: string) {
    const fresh = new Agent({ keepAlive: false });
    this.done = (async () => {
      while (this.sending) {
        const started = Date.now();
        const status = await hostRequest(port, host, '/', fresh).then(
          (r) => r.status,
          () => 0,
        );
        this.answers.push({ at: Date.now(), status });
        await sleep(Math.max(0, 50 - (Date.now() - started)));
      }
    })();
  }

  async stop(): Promise<void> {
    this.sending = false;
    await this.done;
  }

  get failed() {
    return this.answers.filter((a) => a.status !== 200);
  }

  /** The longest time between two answers in a row (ms). */
  get longestGap(): number {
    let worst = 0;
    for (let i = 1; i < this.answers.length; i++) worst = Math.max(worst, this.answers[i].at - this.answers[i - 1].at);
    return worst;
  }

  summary(what: string): string {
    const statuses = [...new Set(this.failed.map((f) => f.status))].join(', ');
    return `${what}: ${this.answers.length} requests, ${this.failed.length} failed${statuses ? ` (status ${statuses}; 0 = no answer)` : ''}, longest gap between answers ${this.longestGap} ms`;
  }
}

/** The pid of the HAProxy master that serves from `routerDir`, or 0. */
function haproxyPid(routerDir: string): number {
  try {
    const pid = Number(readFileSync(join(routerDir, 'haproxy.pid'), 'utf8').trim().split('\n')[0]);
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(join(routerDir, 'haproxy.cfg')) ? pid : 0;
  } catch {
    return 0;
  }
}

async function stopHaproxy(routerDir: string): Promise<void> {
  const pid = haproxyPid(routerDir);
  if (!pid) return;
  process.kill(pid, 'SIGTERM');
  await eventually('HAProxy to stop', async () => haproxyPid(routerDir) === 0, 15_000, 50);
}

describe('traffic outlives the router', { timeout: 600_000 }, () => {
  let p: Platform;
  const host = 'web-outlive.localhost';
  const routerDir = () => join(p.dataDir, 'router');

  before(async () => {
    p = await Platform.start('outlives', { node1: {} }, { router: true });
    assert.equal((await p.api('POST', '/domains', { name: 'outlive' })).status, 201);
    const res = await p.api('POST', '/domains/outlive/apps?wait=120', { name: 'web', cartridges: ['static'] });
    assert.equal(res.body.operation?.state, 'succeeded', `${JSON.stringify(res.body)}\n${p.logs()}`);
    await eventually('the router to serve the app', async () => (await p.viaRouter(host).catch(() => null))?.status === 200, 60_000, 100);
  });
  after(async () => {
    await p?.stop();
  });

  it('fails no request while the router is killed with kill -9 and started again', async () => {
    const haproxy = haproxyPid(routerDir());
    assert.ok(haproxy > 0, 'HAProxy runs');
    const load = new Load(p.routerPort, host);
    await sleep(1000);
    await p.router!.kill('SIGKILL');
    await sleep(1000);
    await p.startRouter();
    await eventually('the new router to take HAProxy over', async () => p.router!.output.some((l) => l.includes(`took over haproxy ${haproxy}`)), 30_000, 50);
    await sleep(2000);
    await load.stop();
    console.log(`# ${load.summary('kill -9 of the router')}`);
    assert.deepEqual(load.failed.slice(0, 5), [], load.summary('kill -9 of the router'));
    assert.ok(load.answers.length > 40, `only ${load.answers.length} requests were sent`);
  });

  it('leaves HAProxy serving when the router stops', async () => {
    const haproxy = haproxyPid(routerDir());
    const load = new Load(p.routerPort, host);
    await sleep(500);
    await p.router!.kill('SIGTERM');
    await sleep(1500);
    await load.stop();
    assert.deepEqual(load.failed.slice(0, 5), [], load.summary('the router stopped'));
    assert.equal(haproxyPid(routerDir()), haproxy, 'the same HAProxy serves on');
    assert.ok(
      p.router!.output.some((l) => new RegExp(`leaving haproxy ${haproxy} serving routes version \\d+`).test(l)),
      p.router!.output.slice(-10).join('\n'),
    );
  });

  it('starts HAProxy from the configuration last applied, before Redis answers', async () => {
    await stopHaproxy(routerDir());
    // Nothing listens on this port: the route table cannot be read, so whatever is served comes from the disk.
    const unreachable = `redis://127.0.0.1:${await freePort()}`;
    const first = (async () => {
      for (;;) {
        const r = await p.viaRouter(host).catch(() => null);
        if (r) return r;
        await sleep(10);
      }
    })();
    await p.startRouter({ REDIS_URL: unreachable });
    const answer = await first;
    assert.equal(answer.status, 200, `the first answer is the app's, not ${answer.status}:\n${answer.body.slice(0, 300)}\n${p.logs()}`);
    assert.ok(
      p.router!.output.some((l) => /starting haproxy with the configuration last applied \(routes version \d+, 1 app\(s\)\)/.test(l)),
      p.router!.output.slice(-10).join('\n'),
    );
    await p.router!.kill('SIGTERM');
  });

  it('falls back to no routes, loudly, when HAProxy refuses the saved configuration, then catches up', async () => {
    await stopHaproxy(routerDir());
    writeFileSync(join(routerDir(), 'haproxy.cfg'), 'this is not a configuration\n');
    await p.startRouter();
    assert.ok(
      p.router!.output.some((l) => l.includes('WARNING: HAProxy refuses the configuration last applied; starting with no routes')),
      p.router!.output.slice(-10).join('\n'),
    );
    await eventually('the router to serve the app again', async () => (await p.viaRouter(host).catch(() => null))?.status === 200, 30_000, 100);
  });
});

describe('traffic outlives npm run down and npm run up', { timeout: 900_000 }, () => {
  const id = randomBytes(3).toString('hex');
  const instance = `gst-outlives-up-${id}`;
  const database = `gst_outlives_up_${id}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'gearshift-outlives-up-'));
  const password = randomBytes(9).toString('base64url');
  const host = 'web-updown.localhost';
  let env: NodeJS.ProcessEnv;
  let port = 0;
  let routerPort = 0;
  let token = '';

  const script = async (name: string, ...args: string[]) => {
    try {
      const { stdout, stderr } = await run('npm', ['run', '--silent', name, '--', ...args], { cwd: ROOT, env, maxBuffer: 16 * 1024 * 1024 });
      return `${stdout}${stderr}`;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      const logs = ['broker', 'agent', 'router', 'supervisor']
        .map((part) => {
          const file = join(dataDir, 'logs', `${part}.log`);
          return existsSync(file) ? `--- ${part}.log\n${readFileSync(file, 'utf8').split('\n').slice(-30).join('\n')}` : '';
        })
        .join('\n');
      throw new Error(`npm run ${name} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}\n${logs}`);
    }
  };
  const api = async (method: string, path: string, body?: unknown): Promise<ApiResponse> => {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: await res.json().catch(() => null) };
  };

  before(async () => {
    port = await freePort();
    routerPort = await freePort();
    await createDatabase(database);
    env = {
      ...process.env,
      GEARSHIFT_DATA_DIR: dataDir,
      GEARSHIFT_INSTANCE: instance,
      GEARSHIFT_PORT: String(port),
      GEARSHIFT_ROUTER_PORT: String(routerPort),
      GEARSHIFT_ROUTER_TLS_PORT: String(await freePort()),
      GEARSHIFT_NODE_NAME: `${instance}-node1`,
      GEARSHIFT_ADMIN_PASSWORD: password,
      DATABASE_URL: databaseUrl(database),
    };
    await script('up', '--detach');
    const login = await api('POST', '/auth/login', { username: 'admin', password });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    token = login.body.token;
    assert.equal((await api('POST', '/domains', { name: 'updown' })).status, 201);
    const res = await api('POST', '/domains/updown/apps?wait=120', { name: 'web', cartridges: ['static'] });
    assert.equal(res.body.operation?.state, 'succeeded', JSON.stringify(res.body));
    await eventually('the router to serve the app', async () => (await hostRequest(routerPort, host).catch(() => null))?.status === 200, 60_000, 100);
  });
  after(async () => {
    if (env) await script('down', '--all').catch((err: Error) => console.log(`# ${err.message}`));
    assert.equal(haproxyPid(join(dataDir, 'router')), 0, 'npm run down -- --all stopped HAProxy');
    await removeInstance(instance);
    await clearRedisPrefix(instance);
    await dropDatabase(database);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('fails no request during npm run down and npm run up -- --detach', async () => {
    const load = new Load(routerPort, host);
    await sleep(1000);
    const down = await script('down');
    await sleep(1000);
    await script('up', '--detach');
    await sleep(3000);
    await load.stop();
    console.log(`# ${load.summary('npm run down, then npm run up -- --detach')}`);
    assert.deepEqual(load.failed.slice(0, 5), [], load.summary('npm run down + up'));
    assert.ok(load.answers.length > 60, `only ${load.answers.length} requests were sent`);
    assert.match(down, /HAProxy \(pid \d+\) keeps serving the apps/, down);
    const log = readFileSync(join(dataDir, 'logs', 'router.log'), 'utf8');
    assert.match(log, /took over haproxy \d+, left running by an earlier router/);
  });
});
