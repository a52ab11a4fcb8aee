import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { removeInstance } from './docker';
import { hostRequest, type ApiResponse } from './http';
import { freePort, ROOT, sleep } from './processes';
import { clearRedisPrefix, createDatabase, databaseUrl, dropDatabase } from './stores';

const run = promisify(execFile);

/**
 * A platform brought up and down by the real `npm run up` and `npm run down`, as an operator runs them, with its own
 * data directory, database, Redis prefix, Docker labels and ports, so that it disturbs nothing else on the machine.
 * remove() stops everything it started (HAProxy included) and deletes what it made.
 */
export class ScriptedPlatform {
  readonly instance: string;
  readonly database: string;
  readonly dataDir: string;
  readonly adminPassword = randomBytes(9).toString('base64url');
  port = 0;
  routerPort = 0;
  token = '';
  /** The checkout whose `npm run` scripts are run (another one to upgrade from, say). */
  checkout = ROOT;
  private env: NodeJS.ProcessEnv = {};

  constructor(name: string) {
    const id = randomBytes(3).toString('hex');
    this.instance = `gst-${name}-${id}`.slice(0, 30);
    this.database = `gst_${name.replace(/-/g, '_')}_${id}`;
    this.dataDir = mkdtempSync(join(tmpdir(), `gearshift-${name}-`));
  }

  get routerDir(): string {
    return join(this.dataDir, 'router');
  }

  /** Runs `npm run up -- --detach` for the first time and logs in as the admin. */
  async start(): Promise<void> {
    this.port = await freePort();
    this.routerPort = await freePort();
    await createDatabase(this.database);
    this.env = {
      ...process.env,
      GEARSHIFT_DATA_DIR: this.dataDir,
      GEARSHIFT_INSTANCE: this.instance,
      GEARSHIFT_PORT: String(this.port),
      GEARSHIFT_ROUTER_PORT: String(this.routerPort),
      GEARSHIFT_ROUTER_TLS_PORT: String(await freePort()),
      GEARSHIFT_NODE_NAME: `${this.instance}-node1`,
      GEARSHIFT_ADMIN_PASSWORD: this.adminPassword,
      DATABASE_URL: databaseUrl(this.database),
    };
    await this.script('up', '--detach');
    const login = await this.api('POST', '/auth/login', { username: 'admin', password: this.adminPassword });
    if (login.status !== 200) throw new Error(`login failed: ${JSON.stringify(login.body)}`);
    this.token = login.body.token;
  }

  /** `npm run NAME -- ARGS` in this platform's environment; resolves with what it printed. */
  async script(name: string, ...args: string[]): Promise<string> {
    try {
      const { stdout, stderr } = await run('npm', ['run', '--silent', name, '--', ...args], { cwd: this.checkout, env: this.env, maxBuffer: 16 * 1024 * 1024 });
      return `${stdout}${stderr}`;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`npm run ${name} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}\n${this.logs()}`);
    }
  }

  log(part: 'broker' | 'agent' | 'router' | 'supervisor'): string {
    const file = join(this.dataDir, 'logs', `${part}.log`);
    return existsSync(file) ? readFileSync(file, 'utf8') : '';
  }

  logs(): string {
    return (['broker', 'agent', 'router', 'supervisor'] as const)
      .map((part) => `--- ${part}.log\n${this.log(part).split('\n').slice(-30).join('\n')}`)
      .join('\n');
  }

  async api(method: string, path: string, body?: unknown): Promise<ApiResponse> {
    const res = await fetch(`http://127.0.0.1:${this.port}/api/v1${path}`, {
      method,
      headers: { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: await res.json().catch(() => null) };
  }

  /** The pid of the HAProxy master that serves this platform's routes, or 0. */
  haproxyPid(): number {
    return haproxyPid(this.routerDir);
  }

  /** `npm run down -- --all`, then removes the database, Redis keys, containers and data directory. */
  async remove(): Promise<void> {
    if (this.env.GEARSHIFT_DATA_DIR) await this.script('down', '--all').catch((err: Error) => console.log(`# ${err.message}`));
    await removeInstance(this.instance);
    await clearRedisPrefix(this.instance);
    await dropDatabase(this.database);
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** The pid of the HAProxy master that serves from the router directory `routerDir`, or 0. */
export function haproxyPid(routerDir: string): number {
  try {
    const pid = Number(readFileSync(join(routerDir, 'haproxy.pid'), 'utf8').trim().split('\n')[0]);
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(join(routerDir, 'haproxy.cfg')) ? pid : 0;
  } catch {
    return 0;
  }
}

/** Requests to one host through a router, each on a new connection as visitors' would be, about 20 a second. */
export class TrafficLoad {
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

  /** The requests not answered 200 (status 0: no answer at all). */
  get failed() {
    return this.answers.filter((a) => a.status !== 200);
  }

  /** The longest time between two successful answers in a row (ms). */
  get longestGap(): number {
    return this.worstGap().ms;
  }

  /** When the longest gap ended (ms since the epoch; 0 with fewer than two good answers), to set beside the logs. */
  get longestGapEnded(): number {
    return this.worstGap().endedAt;
  }

  private worstGap(): { ms: number; endedAt: number } {
    const ok = this.answers.filter((a) => a.status === 200);
    let worst = { ms: 0, endedAt: 0 };
    for (let i = 1; i < ok.length; i++) if (ok[i].at - ok[i - 1].at > worst.ms) worst = { ms: ok[i].at - ok[i - 1].at, endedAt: ok[i].at };
    return worst;
  }

  summary(what: string): string {
    const statuses = [...new Set(this.failed.map((f) => f.status))].join(', ');
    return `${what}: ${this.answers.length} requests, ${this.failed.length} failed${statuses ? ` (status ${statuses}; 0 = no answer)` : ''}, longest gap between good answers ${this.longestGap} ms`;
  }
}
