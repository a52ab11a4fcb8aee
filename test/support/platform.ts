import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Agent as HttpAgent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { instanceContainers, instanceNetworks, instanceVolumes, removeInstance } from './docker';
import { hostRequest, hostRequestTls, type ApiResponse } from './http';
import { eventually, freePort, NODE_FLAGS, Proc, ROOT, STARTUP_MS } from './processes';
import { clearRedisPrefix, createDatabase, databaseUrl, dropDatabase, REDIS_URL } from './stores';
import { registryEnv } from './registry';

/**
 * A whole Gearshift platform for one test file: its own Postgres database, Redis prefix, Docker labels and data
 * directory, a real broker process and real node agents. stop() removes everything it made.
 *
 * The helpers tests use beside it live in files of their own and are re-exported here: processes and waiting
 * (processes.ts), Docker (docker.ts), HTTP (http.ts), the CLI (cli.ts), Postgres and Redis (stores.ts).
 */

export { ROOT, sleep, eventually, hostAddress } from './processes';
export { docker, execIn, psqlIn } from './docker';
export { assertServedThroughRestart, getJson, requestLoop, type ApiResponse } from './http';
export { runCli } from './cli';
export { gitPush } from './git';
export { REGISTRY, registryAuthconfig, registryHeaders } from './registry';

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
  /** Brokers started beside the first one, by port (see startBroker). */
  readonly brokers = new Map<number, Proc>();
  readonly adminPassword = randomBytes(9).toString('base64url');
  private extraEnv: Record<string, string> = {};
  /** Node's flags for the brokers (NODE_FLAGS unless start() was given others). */
  private brokerFlags = NODE_FLAGS;

  private constructor(readonly name: string) {
    const id = randomBytes(3).toString('hex');
    this.instance = `gst-${name}-${id}`.slice(0, 30);
    this.database = `gst_${name.replace(/-/g, '_')}_${id}`;
    this.dataDir = mkdtempSync(join(tmpdir(), `gearshift-${name}-`));
  }

  static async start(
    name: string,
    agents: Record<string, AgentOptions> = { node1: {} },
    opts: { router?: boolean; env?: Record<string, string>; brokerFlags?: string[] } = {},
  ): Promise<Platform> {
    const p = new Platform(name);
    p.extraEnv = opts.env ?? {};
    if (opts.brokerFlags) p.brokerFlags = opts.brokerFlags;
    await createDatabase(p.database);
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
    return databaseUrl(this.database);
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
      // Test files run three at a time on a small machine, where a heartbeat can be late by seconds: a node declared
      // lost there would move the gears another test is watching. The files about losing nodes set the platform's
      // default (3 s) themselves (test/support/lab-platform.ts).
      GEARSHIFT_HEARTBEAT_TIMEOUT_MS: '10000',
      GEARSHIFT_JOB_LOCK_MS: '4000',
      GEARSHIFT_ROUTER_PORT: String(this.routerPort),
      GEARSHIFT_ROUTER_TLS_PORT: String(this.routerTlsPort),
      ...registryEnv(),
      ...this.extraEnv,
      ...extra,
    };
  }

  /**
   * Starts the broker; given another `port`, one more broker beside it (on the same database, Redis prefix and data
   * directory, as brokers behind one load balancer), kept in `brokers` by its port.
   */
  async startBroker(port = this.port): Promise<Proc> {
    const child = spawn(process.execPath, [...this.brokerFlags, join(ROOT, 'dist/apps/broker/src/main.js')], {
      env: this.env({ GEARSHIFT_PORT: String(port) }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proc = new Proc(child, `broker:${port}`);
    if (port === this.port) this.broker = proc;
    else this.brokers.set(port, proc);
    await eventually(
      'the broker to answer /healthz',
      async () => {
        if (!proc.alive) throw new Error(`the broker exited:\n${proc.output.slice(-30).join('\n')}`);
        const res = await fetch(`http://127.0.0.1:${port}/api/v1/healthz`).catch(() => null);
        return res?.status === 200;
      },
      STARTUP_MS,
      100,
    );
    return proc;
  }

  async startRouter(extra: Record<string, string> = {}): Promise<void> {
    // The router runs beside node1: node1's gears are reached at their own addresses, other nodes' at published ports.
    const env = this.env({ GEARSHIFT_NODE_NAME: `${this.instance}-node1`, ...extra });
    const child = spawn(process.execPath, [...NODE_FLAGS, join(ROOT, 'dist/apps/router/src/main.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.router = new Proc(child, 'router');
    await eventually(
      'the router to answer',
      async () => {
        if (!this.router!.alive) throw new Error(`the router exited:\n${this.router!.output.slice(-30).join('\n')}`);
        const res = await fetch(`http://127.0.0.1:${this.routerPort}/`).catch(() => null);
        return res?.status === 404;
      },
      STARTUP_MS,
      100,
    );
  }

  /** The router's HAProxy servers and the app's gears as the API shows them: what a routing failure is read from. */
  async routingState(path: string): Promise<string> {
    let servers = '';
    try {
      servers = readFileSync(join(this.dataDir, 'router', 'haproxy.cfg'), 'utf8')
        .split('\n')
        .filter((l) => /^\s*server /.test(l))
        .join('\n');
    } catch {
      servers = '(no haproxy.cfg)';
    }
    const app = await this.api('GET', path);
    const gears = (app.body.gears ?? []).map(
      (g: { id: string; cartridge: string; node: string; state: string; endpoints: unknown }) =>
        `${g.id.slice(0, 8)} ${g.cartridge} ${g.node} ${g.state} ${JSON.stringify(g.endpoints)}`,
    );
    return `servers:\n${servers}\ngears:\n${gears.join('\n')}\n${this.logs()}`;
  }

  /** A request through the router, with the Host header an app (or alias) answers to. */
  async viaRouter(host: string, path = '/', agent?: HttpAgent, timeoutMs?: number): Promise<{ status: number; body: string }> {
    return hostRequest(this.routerPort, host, path, agent, timeoutMs);
  }

  /** One HTTPS request through the router's TLS port for `host`, trusting only `ca` (the certificate it should serve). */
  async viaRouterTls(host: string, ca: string, path = '/'): Promise<{ status: number; body: string }> {
    return hostRequestTls(this.routerTlsPort, host, ca, path);
  }

  /** Waits until the router answers `want` (trimmed, status 200) for `host` at `path`; the answer. */
  async answers(host: string, want: string, path = '/', ms = 60_000): Promise<{ status: number; body: string }> {
    return eventually(
      `${host}${path} to answer "${want}"`,
      async () => {
        const res = await this.viaRouter(host, path).catch(() => null);
        return res?.status === 200 && res.body.trim() === want && res;
      },
      ms,
      250,
    );
  }

  /**
   * Runs the broker, an agent named `agent` and the router under Gearshift's supervisor, as `npm run up` does (in
   * place of a broker started by start()). Each part's pid is in `<data dir>/run/<part>.pid`.
   */
  async startSupervised(agent = 'node1'): Promise<void> {
    await this.broker?.kill();
    this.broker = undefined;
    const env = this.env({ GEARSHIFT_NODE_NAME: this.nodeName(agent), GEARSHIFT_NODE_FLAGS: NODE_FLAGS.join(' ') });
    this.supervisor = new Proc(
      spawn(process.execPath, [join(ROOT, 'dist/apps/supervisor/src/main.js'), 'broker', 'agent', 'router'], { env, stdio: ['ignore', 'pipe', 'pipe'] }),
      'supervisor',
    );
    await eventually(
      'the supervised platform to be ready',
      async () => {
        if (!this.supervisor!.alive) throw new Error(`the supervisor exited:\n${this.supervisor!.output.slice(-30).join('\n')}`);
        const nodes = await this.api('GET', '/nodes').catch(() => null);
        const router = await fetch(`http://127.0.0.1:${this.routerPort}/`).catch(() => null);
        return nodes?.body.some?.((n: { name: string; ready: boolean }) => n.name === this.nodeName(agent) && n.ready) && router?.status === 404;
      },
      STARTUP_MS,
      100,
    );
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
    // As on a host of its own: no registry password of its own, the one the broker gives it when it registers.
    const extra: Record<string, string> = {
      GEARSHIFT_NODE_NAME: `${this.instance}-${name}`,
      GEARSHIFT_REGISTRY_PASSWORD: '',
      GEARSHIFT_REGISTRY_PASSWORD_FILE: '',
    };
    if (opts.address) extra.GEARSHIFT_NODE_ADDRESS = opts.address;
    if (opts.memoryMb) extra.GEARSHIFT_NODE_MEMORY_MB = String(opts.memoryMb);
    if (opts.maxGears) extra.GEARSHIFT_NODE_MAX_GEARS = String(opts.maxGears);
    if (opts.joinToken) extra.GEARSHIFT_JOIN_TOKEN = opts.joinToken;
    const child = spawn(process.execPath, [...NODE_FLAGS, join(ROOT, 'dist/apps/node-agent/src/main.js')], {
      env: this.env(extra),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proc = new Proc(child, name);
    this.agents.set(name, proc);
    await eventually(
      `agent ${name} to report ready`,
      async () => {
        if (!proc.alive) throw new Error(`agent ${name} exited:\n${proc.output.slice(-30).join('\n')}`);
        const nodes = await this.api('GET', '/nodes');
        return nodes.body.some?.((n: { name: string; ready: boolean }) => n.name === `${this.instance}-${name}` && n.ready);
      },
      STARTUP_MS,
      100,
    );
  }

  async stopAgent(name: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.agents.get(name)?.kill(signal);
  }

  nodeName(agent: string) {
    return `${this.instance}-${agent}`;
  }

  /**
   * Deploys `files` (name → content, at the top of the archive) to the app at `appPath` (`/domains/D/apps/A`) as an
   * uploaded tar.gz, waiting for the deployment to end; its answer.
   */
  async deployFiles(appPath: string, files: Record<string, string>): Promise<{ status: number; body: unknown }> {
    const src = mkdtempSync(join(tmpdir(), 'gearshift-src-'));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(src, name), text);
    const archive = execFileSync('tar', ['-czf', '-', '-C', src, '.']);
    rmSync(src, { recursive: true, force: true });
    const res = await fetch(`${this.baseUrl}/api/v1${appPath}/deployments?wait=300`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/gzip' },
      body: archive,
    });
    return { status: res.status, body: await res.json() };
  }

  async login(): Promise<void> {
    const res = await this.api('POST', '/auth/login', { username: 'admin', password: this.adminPassword }, null);
    if (res.status !== 200) throw new Error(`login failed: ${JSON.stringify(res.body)}`);
    this.token = res.body.token;
  }

  /** Calls the REST API; `token` null sends no Authorization header. */
  /**
   * Follows a streaming API path (`/domains/dev/apps/site/logs?tail=0&follow=true`): its status, the text it has sent
   * so far, and stop(), which ends the request and waits for the reading to end.
   */
  async follow(path: string): Promise<{ status: number; text(): string; stop(): Promise<void> }> {
    const controller = new AbortController();
    const res = await fetch(`${this.baseUrl}/api/v1${path}`, { headers: { authorization: `Bearer ${this.token}` }, signal: controller.signal });
    let seen = '';
    const reading = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) seen += decoder.decode(chunk, { stream: true });
      } catch {
        // aborted
      }
    })();
    return {
      status: res.status,
      text: () => seen,
      stop: async () => {
        controller.abort();
        await reading;
      },
    };
  }

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
    return instanceContainers(this.instance, labels);
  }

  async volumes() {
    return instanceVolumes(this.instance);
  }

  async networks() {
    return instanceNetworks(this.instance);
  }

  logs(): string {
    return [
      ...(this.supervisor ? ['--- supervisor', ...this.supervisor.output.slice(-40)] : []),
      ...(this.broker ? [`--- broker`, ...this.broker.output.slice(-60)] : []),
      ...[...this.brokers].flatMap(([port, b]) => [`--- broker on ${port}`, ...b.output.slice(-60)]),
      ...(this.router ? ['--- router', ...this.router.output.slice(-40)] : []),
      ...[...this.agents].flatMap(([n, p]) => [`--- agent ${n}`, ...p.output.slice(-60)]),
    ].join('\n');
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
    await Promise.all([...this.brokers.values()].map((b) => b.kill()));
    await removeInstance(this.instance);
    await clearRedisPrefix(this.instance);
    await dropDatabase(this.database);
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
