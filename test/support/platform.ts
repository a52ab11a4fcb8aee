import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { createServer } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import IORedis from 'ioredis';
import { Client } from 'pg';

/**
 * A whole Gearshift platform for one test file: its own Postgres database, Redis prefix, Docker labels and data
 * directory, a real broker process and real node agents. stop() removes everything it made.
 */

export const ROOT = resolve(__dirname, '../../..');
const PG_ADMIN_URL = process.env.GEARSHIFT_TEST_PG_URL || 'postgresql://gearshift:gearshift@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
/** The flags `npm run up` starts the broker and agents with. */
const NODE_FLAGS = (process.env.GEARSHIFT_NODE_FLAGS ?? '--max-semi-space-size=1 --max-old-space-size=128').split(' ').filter(Boolean);
export const docker = new Docker({ socketPath: '/var/run/docker.sock' });

export interface ApiResponse<T = any> {
  status: number;
  body: T;
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
    srv.on('error', rej);
  });
}

/**
 * How long a process that is still alive may take to start. Generous: on a loaded machine (tests run side by side)
 * loading the broker's code alone takes seconds, and a crash is caught at once by the liveness check anyway.
 */
const STARTUP_MS = 90_000;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a truthy value or the time is up. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | null | false>, timeoutMs = 30000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    await sleep(everyMs);
  }
}

class Proc {
  readonly output: string[] = [];
  constructor(readonly child: ChildProcess, readonly label: string) {
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line) this.output.push(line);
      if (this.output.length > 400) this.output.splice(0, this.output.length - 400);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }
  get alive() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill(signal);
    await Promise.race([exited, sleep(15000)]);
    if (this.alive) this.child.kill('SIGKILL');
  }
}

/**
 * An address of this host that containers on any Docker network reach (not loopback): nodes that publish there can
 * serve gears of an app on other nodes, as separate hosts would.
 */
export function hostAddress(): string {
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (/^(docker|br-|veth)/.test(name)) continue;
    const v4 = addrs?.find((a) => a.family === 'IPv4' && !a.internal);
    if (v4) return v4.address;
  }
  throw new Error('this host has no non-loopback IPv4 address for nodes to publish on');
}

export interface AgentOptions {
  /** GEARSHIFT_NODE_ADDRESS: where the node publishes gear ports (loopback unless given). */
  address?: string;
  memoryMb?: number;
  maxGears?: number;
  joinToken?: string;
}

export class Platform {
  readonly instance: string;
  readonly database: string;
  readonly dataDir: string;
  port = 0;
  token = '';
  broker?: Proc;
  router?: Proc;
  supervisor?: Proc;
  routerPort = 0;
  routerTlsPort = 0;
  readonly agents = new Map<string, Proc>();
  readonly adminPassword = randomBytes(9).toString('base64url');
  private extraEnv: Record<string, string> = {};

  private constructor(readonly name: string) {
    const id = randomBytes(3).toString('hex');
    this.instance = `gst-${name}-${id}`.slice(0, 30);
    this.database = `gst_${name.replace(/-/g, '_')}_${id}`;
    this.dataDir = mkdtempSync(join(tmpdir(), `gearshift-${name}-`));
  }

  static async start(name: string, agents: Record<string, AgentOptions> = { node1: {} }, opts: { router?: boolean; env?: Record<string, string> } = {}): Promise<Platform> {
    const p = new Platform(name);
    p.extraEnv = opts.env ?? {};
    const pg = new Client({ connectionString: PG_ADMIN_URL });
    await pg.connect();
    await pg.query(`create database ${p.database}`);
    await pg.end();
    p.port = await freePort();
    p.routerPort = await freePort();
    p.routerTlsPort = await freePort();
    await p.startBroker();
    await p.login();
    for (const [agentName, agentOpts] of Object.entries(agents)) await p.startAgent(agentName, agentOpts);
    if (opts.router) await p.startRouter();
    return p;
  }

  get baseUrl() {
    return `http://127.0.0.1:${this.port}`;
  }

  get databaseUrl() {
    return PG_ADMIN_URL.replace(/\/[^/]*$/, `/${this.database}`);
  }

  private env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      ...process.env,
      // As `npm run up` runs them (scripts/up.sh): memory figures in tests are those of production.
      MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2',
      DATABASE_URL: this.databaseUrl,
      REDIS_URL,
      GEARSHIFT_INSTANCE: this.instance,
      GEARSHIFT_DATA_DIR: this.dataDir,
      GEARSHIFT_PORT: String(this.port),
      GEARSHIFT_BROKER_URL: this.baseUrl,
      GEARSHIFT_ADMIN_PASSWORD: this.adminPassword,
      GEARSHIFT_LOG_LEVEL: 'warn',
      GEARSHIFT_HEARTBEAT_MS: '1000',
      GEARSHIFT_JOB_LOCK_MS: '4000',
      GEARSHIFT_ROUTER_PORT: String(this.routerPort),
      GEARSHIFT_ROUTER_TLS_PORT: String(this.routerTlsPort),
      ...this.extraEnv,
      ...extra,
    };
  }

  async startBroker(): Promise<void> {
    const child = spawn(process.execPath, [...NODE_FLAGS, join(ROOT, 'dist/apps/broker/src/main.js')], { env: this.env(), stdio: ['ignore', 'pipe', 'pipe'] });
    this.broker = new Proc(child, 'broker');
    await eventually('the broker to answer /healthz', async () => {
      if (!this.broker!.alive) throw new Error(`the broker exited:\n${this.broker!.output.slice(-30).join('\n')}`);
      const res = await fetch(`${this.baseUrl}/api/v1/healthz`).catch(() => null);
      return res?.status === 200;
    }, STARTUP_MS, 100);
  }

  async startRouter(): Promise<void> {
    // The router runs beside node1: node1's gears are reached at their own addresses, other nodes' at published ports.
    const env = this.env({ GEARSHIFT_NODE_NAME: `${this.instance}-node1` });
    const child = spawn(process.execPath, [...NODE_FLAGS, join(ROOT, 'dist/apps/router/src/main.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.router = new Proc(child, 'router');
    await eventually('the router to answer', async () => {
      if (!this.router!.alive) throw new Error(`the router exited:\n${this.router!.output.slice(-30).join('\n')}`);
      const res = await fetch(`http://127.0.0.1:${this.routerPort}/`).catch(() => null);
      return res?.status === 404;
    }, STARTUP_MS, 100);
  }

  /** A request through the router, with the Host header an app (or alias) answers to. */
  /** The router's HAProxy servers and the app's gears as the API shows them: what a routing failure is read from. */
  async routingState(path: string): Promise<string> {
    let servers = '';
    try {
      servers = readFileSync(join(this.dataDir, 'router', 'haproxy.cfg'), 'utf8').split('\n').filter((l) => /^\s*server /.test(l)).join('\n');
    } catch {
      servers = '(no haproxy.cfg)';
    }
    const app = await this.api('GET', path);
    const gears = (app.body.gears ?? []).map((g: { id: string; cartridge: string; node: string; state: string; endpoints: unknown }) => `${g.id.slice(0, 8)} ${g.cartridge} ${g.node} ${g.state} ${JSON.stringify(g.endpoints)}`);
    return `servers:\n${servers}\ngears:\n${gears.join('\n')}\n${this.logs()}`;
  }

  async viaRouter(host: string, path = '/', agent?: import('node:http').Agent): Promise<{ status: number; body: string }> {
    const { request } = await import('node:http');
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: this.routerPort, path, headers: { host }, agent, timeout: 5000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end();
    });
  }

  /**
   * Runs the broker, an agent named `agent` and the router under Gearshift's supervisor, as `npm run up` does (in
   * place of a broker started by start()). Each part's pid is in `<data dir>/run/<part>.pid`.
   */
  async startSupervised(agent = 'node1'): Promise<void> {
    await this.broker?.kill();
    this.broker = undefined;
    const env = this.env({ GEARSHIFT_NODE_NAME: this.nodeName(agent), GEARSHIFT_NODE_FLAGS: NODE_FLAGS.join(' ') });
    this.supervisor = new Proc(spawn(process.execPath, [join(ROOT, 'dist/apps/supervisor/src/main.js'), 'broker', 'agent', 'router'], { env, stdio: ['ignore', 'pipe', 'pipe'] }), 'supervisor');
    await eventually('the supervised platform to be ready', async () => {
      if (!this.supervisor!.alive) throw new Error(`the supervisor exited:\n${this.supervisor!.output.slice(-30).join('\n')}`);
      const nodes = await this.api('GET', '/nodes').catch(() => null);
      const router = await fetch(`http://127.0.0.1:${this.routerPort}/`).catch(() => null);
      return nodes?.body.some?.((n: { name: string; ready: boolean }) => n.name === this.nodeName(agent) && n.ready) && router?.status === 404;
    }, STARTUP_MS, 100);
  }

  /** The pid of a part the supervisor runs, or 0 while it is not running. */
  supervisedPid(part: 'broker' | 'agent' | 'router'): number {
    try {
      return Number(readFileSync(join(this.dataDir, 'run', `${part}.pid`), 'utf8').trim()) || 0;
    } catch {
      return 0;
    }
  }

  async stopBroker(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.broker?.kill(signal);
  }

  async startAgent(name: string, opts: AgentOptions = {}): Promise<void> {
    const extra: Record<string, string> = { GEARSHIFT_NODE_NAME: `${this.instance}-${name}` };
    if (opts.address) extra.GEARSHIFT_NODE_ADDRESS = opts.address;
    if (opts.memoryMb) extra.GEARSHIFT_NODE_MEMORY_MB = String(opts.memoryMb);
    if (opts.maxGears) extra.GEARSHIFT_NODE_MAX_GEARS = String(opts.maxGears);
    if (opts.joinToken) extra.GEARSHIFT_JOIN_TOKEN = opts.joinToken;
    const child = spawn(process.execPath, [...NODE_FLAGS, join(ROOT, 'dist/apps/node-agent/src/main.js')], { env: this.env(extra), stdio: ['ignore', 'pipe', 'pipe'] });
    const proc = new Proc(child, name);
    this.agents.set(name, proc);
    await eventually(`agent ${name} to report ready`, async () => {
      if (!proc.alive) throw new Error(`agent ${name} exited:\n${proc.output.slice(-30).join('\n')}`);
      const nodes = await this.api('GET', '/nodes');
      return nodes.body.some?.((n: { name: string; ready: boolean }) => n.name === `${this.instance}-${name}` && n.ready);
    }, STARTUP_MS, 100);
  }

  async stopAgent(name: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.agents.get(name)?.kill(signal);
  }

  nodeName(agent: string) {
    return `${this.instance}-${agent}`;
  }

  async login(): Promise<void> {
    const res = await this.api('POST', '/auth/login', { username: 'admin', password: this.adminPassword }, null);
    if (res.status !== 200) throw new Error(`login failed: ${JSON.stringify(res.body)}`);
    this.token = res.body.token;
  }

  /** Calls the REST API; `token` null sends no Authorization header. */
  async api<T = any>(method: string, path: string, body?: unknown, token: string | null = this.token, raw?: string): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined || raw !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.baseUrl}/api/v1${path}`, { method, headers, body: raw ?? (body === undefined ? undefined : JSON.stringify(body)) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // keep the text
    }
    return { status: res.status, body: parsed as T };
  }

  /** Containers of this platform, by label. */
  async containers(labels: Record<string, string> = {}) {
    const filters = { label: [`gearshift.instance=${this.instance}`, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)] };
    return docker.listContainers({ all: true, filters: JSON.stringify(filters) });
  }

  async volumes() {
    const res = await docker.listVolumes({ filters: JSON.stringify({ label: [`gearshift.instance=${this.instance}`] }) });
    return res.Volumes ?? [];
  }

  async networks() {
    return docker.listNetworks({ filters: JSON.stringify({ label: [`gearshift.instance=${this.instance}`] }) });
  }

  /** Release images this run built, on this host and in the registry. */
  private async removeReleaseImages(): Promise<void> {
    const images = await docker.listImages({ filters: JSON.stringify({ label: [`gearshift.instance=${this.instance}`] }) });
    const registry = process.env.GEARSHIFT_REGISTRY ?? '127.0.0.1:5000';
    for (const img of images) {
      for (const tag of img.RepoTags ?? []) {
        if (registry && tag.startsWith(`${registry}/`)) {
          const [repo, version] = [tag.slice(registry.length + 1, tag.lastIndexOf(':')), tag.slice(tag.lastIndexOf(':') + 1)];
          const head = await fetch(`http://${registry}/v2/${repo}/manifests/${version}`, { method: 'HEAD', headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' } }).catch(() => null);
          const digest = head?.headers.get('docker-content-digest');
          if (digest) await fetch(`http://${registry}/v2/${repo}/manifests/${digest}`, { method: 'DELETE' }).catch(() => undefined);
        }
      }
      await docker.getImage(img.Id).remove({ force: true }).catch(() => undefined);
    }
  }

  logs(): string {
    return [...(this.supervisor ? ['--- supervisor', ...this.supervisor.output.slice(-40)] : []), ...(this.broker ? [`--- broker`, ...this.broker.output.slice(-60)] : []), ...(this.router ? ['--- router', ...this.router.output.slice(-40)] : []), ...[...this.agents].flatMap(([n, p]) => [`--- agent ${n}`, ...p.output.slice(-60)])].join('\n');
  }

  async stop(): Promise<void> {
    await this.supervisor?.kill();
    await Promise.all([...this.agents.values()].map((a) => a.kill()));
    await this.router?.kill();
    try {
      process.kill(Number(readFileSync(join(this.dataDir, 'router', 'haproxy.pid'), 'utf8')), 'SIGTERM');
    } catch {
      // no HAProxy left
    }
    await this.broker?.kill();
    for (const c of await this.containers()) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    for (const n of await this.networks()) await docker.getNetwork(n.Id).remove().catch(() => undefined);
    for (const v of await this.volumes()) await docker.getVolume(v.Name).remove({ force: true }).catch(() => undefined);
    await this.removeReleaseImages();
    const redis = new IORedis(REDIS_URL);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${this.instance}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
    const pg = new Client({ connectionString: PG_ADMIN_URL });
    await pg.connect();
    // An autovacuum worker on the database belongs to no role the platform's role may signal, so a forced drop
    // can be refused while one runs; it finishes in moments.
    for (let attempt = 0; ; attempt++) {
      try {
        await pg.query(`drop database if exists ${this.database} with (force)`);
        break;
      } catch (err) {
        if (attempt >= 40 || !['42501', '55006'].includes((err as { code?: string }).code ?? '')) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    await pg.end();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Runs a command in a container and returns what it printed (stdout and stderr). */
export async function execIn(containerId: string, cmd: string[]): Promise<string> {
  const exec = await docker.getContainer(containerId).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  await new Promise((res) => {
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', res);
  });
  const raw = Buffer.concat(chunks);
  let out = '';
  for (let i = 0; i + 8 <= raw.length; ) {
    const size = raw.readUInt32BE(i + 4);
    out += raw.subarray(i + 8, i + 8 + size).toString();
    i += 8 + size;
  }
  return out.trim();
}

/** Runs SQL in an app's PostgreSQL gear, as the app's own database user. */
export async function psqlIn(p: Platform, app: string, sql: string): Promise<string> {
  const [db] = await p.containers({ 'gearshift.app-name': app, 'gearshift.cartridge': 'postgresql-15' });
  const info = await docker.getContainer(db.Id).inspect();
  const env = Object.fromEntries(info.Config.Env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  return execIn(db.Id, ['psql', '-qAt', '-h', '/run/postgresql', '-U', env.POSTGRESQL_USER, '-d', env.POSTGRESQL_DATABASE, '-c', sql]);
}

/** GET a URL and parse JSON, or null when nothing answers. */
export async function getJson(url: string): Promise<{ status: number; body: any } | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    const text = await res.text();
    try {
      return { status: res.status, body: JSON.parse(text) };
    } catch {
      return { status: res.status, body: text };
    }
  } catch {
    return null;
  }
}

/**
 * Requests through the router, one after another, until stop() is called; every answer but a 200 is a failure.
 * `pick` reads what each 200 says (the gear that answered, the release's version) into `seen`; stop() gives the
 * number of 200s.
 */
export function requestLoop(p: Platform, host: string, pick: (body: string) => string) {
  const agent = new HttpAgent({ keepAlive: true, maxSockets: 4 });
  const failures: string[] = [];
  const seen = new Set<string>();
  let ok = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const r = await p.viaRouter(host, '/', agent);
        if (r.status === 200) {
          ok++;
          seen.add(pick(r.body));
        } else failures.push(`status ${r.status}: ${r.body.slice(0, 200)}`);
      } catch (err) {
        failures.push((err as Error).message);
        await sleep(50);
      }
    }
  })();
  return {
    seen,
    failures,
    async stop(): Promise<number> {
      running = false;
      await loop;
      agent.destroy();
      return ok;
    },
  };
}

/** The gearshift CLI as a user runs it, against `p`, keeping its login in `home`; `input` answers its prompts. */
export function runCli(p: Platform, home: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist/apps/cli/src/main.js'), ...args], { env: { ...process.env, XDG_CONFIG_HOME: home, GEARSHIFT_SERVER: p.baseUrl } });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c) => (stdout += c));
    child.stderr!.on('data', (c) => (stderr += c));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin!.end(input ?? '');
  });
}
