import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import IORedis from 'ioredis';
import { Queue, type ConnectionOptions } from 'bullmq';
import {
  BROKER_QUEUE,
  haproxyRefusal,
  openRouteSecret,
  platformLogger,
  reportReady,
  routeSealingKey,
  routersKey,
  SEALED_ROUTE_V1,
  stamp,
  routesChannel,
  routesKey,
  surviveUnexpectedErrors,
  serviceTrafficId,
  serviceTrafficKey,
  sumTraffic,
  trafficField,
  trafficKey,
  type AppRoute,
  type BrokerJobs,
  type RouterAck,
  type RouteTable,
} from '@gearshift/cartridges';
import { ConfigError, loadConfig, type RouterConfig } from './config';
import { backendName, renderHaproxy, UNAVAILABLE_PAGE, UNKNOWN_HOST_PAGE, type RenderedConfig } from './haproxy-config';
import { createHash } from 'node:crypto';
import { servedDescription, serving } from './served';
import { servableTable } from './route-check';
import { parseStats, readStats, TrafficMeter } from './traffic';
import { Waker } from './waker';

// JSON lines (pino); the requests it serves are counted by HAProxy, not logged here.
const routerLog = platformLogger('router');
const log = (msg: string) => routerLog.info(msg);

/** Writes a file through a temporary name, so HAProxy never reads half of it. */
function writeAtomic(path: string, content: string, mode = 0o644): void {
  writeFileSync(`${path}.tmp`, content, { mode });
  renameSync(`${path}.tmp`, path);
}

/** The port the waker listened on for the configuration last applied in `runDir` (0: none): idle apps are sent there. */
function savedWakerPort(runDir: string): number {
  try {
    return Number(/^\s*server waker 127\.0\.0\.1:(\d+)/m.exec(readFileSync(join(runDir, 'haproxy.cfg'), 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * Runs HAProxy in master-worker mode and keeps its configuration equal to the route table in Redis. A change is
 * validated with `haproxy -c` and applied with SIGUSR2: the master starts new workers with the listening sockets it
 * holds, and old workers finish their open connections, so nothing is dropped.
 */
class Router {
  private haproxy?: ChildProcess;
  /** An HAProxy master an earlier router started (see adopt). */
  private adopted?: number;
  private watching?: NodeJS.Timeout;
  private restarting?: NodeJS.Timeout;
  private applied = '';
  private stopping = false;
  /** The table being served, and each host's app in it. */
  table: RouteTable = { version: 0, apps: [] };
  /** The version of the route table HAProxy answers with (0: none yet). */
  served = 0;
  private hosts = new Map<string, AppRoute>();

  constructor(
    private readonly config: RouterConfig,
    private readonly wakerPort: number,
  ) {}

  routeFor(host: string): AppRoute | undefined {
    return this.hosts.get(host);
  }

  private write(rendered: RenderedConfig, table: RouteTable, dir = this.config.runDir): void {
    mkdirSync(join(dir, 'certs'), { recursive: true, mode: 0o700 });
    mkdirSync(join(dir, 'pages'), { recursive: true });
    writeAtomic(join(dir, 'pages', 'unknown-host.html'), UNKNOWN_HOST_PAGE);
    writeAtomic(join(dir, 'pages', 'unavailable.http'), UNAVAILABLE_PAGE);
    for (const file of readdirSync(join(dir, 'certs'))) if (!(file in rendered.certificates)) rmSync(join(dir, 'certs', file), { force: true });
    for (const [file, pem] of Object.entries(rendered.certificates)) writeAtomic(join(dir, 'certs', file), pem, 0o600);
    writeAtomic(join(dir, 'certs.list'), rendered.crtList, 0o600);
    writeAtomic(join(dir, 'hosts.map'), rendered.hostsMap);
    writeAtomic(join(dir, 'haproxy.cfg'), rendered.config);
    // The table beside its configuration: a router that starts from the saved configuration knows what it serves.
    writeAtomic(join(dir, 'routes.json'), JSON.stringify(table), 0o600);
  }

  /** HAProxy's verdict on each certificate it was asked about, by the PEM's digest: each is checked once. */
  private readonly verdicts = new Map<string, string | null>();
  private tlsKey?: Buffer;

  /**
   * A certificate and key as the broker sealed them in the route table, opened in memory (they reach the disk only in
   * HAProxy's files, mode 0600). A PEM in clear, from a broker before sealing, is taken as it is.
   */
  private openPem(pem: string): string {
    if (!pem.startsWith(SEALED_ROUTE_V1)) return pem;
    if (!this.tlsKey) {
      const given = this.config.secretKey;
      const secret = Buffer.isBuffer(given) ? given : Buffer.from(readFileSync(given.file, 'utf8').trim(), 'base64');
      this.tlsKey = routeSealingKey(secret);
    }
    return openRouteSecret(this.tlsKey, pem);
  }

  /** What was last reported left out, so that a table that keeps a bad item logs it once, not at every refresh. */
  private reported = '';

  /**
   * The part of the table HAProxy will take: each app and certificate checked on its own (see route-check.ts), and
   * each certificate loaded by a scratch HAProxy once. What is left out is logged, with why; the rest is served.
   */
  private async servable(raw: unknown): Promise<RouteTable> {
    const { table, skipped } = servableTable(raw, Date.now(), (pem) => this.openPem(pem));
    for (const app of table.apps) {
      const kept = [];
      for (const t of app.tls) {
        const digest = createHash('sha256').update(t.pem).digest('hex');
        if (!this.verdicts.has(digest)) {
          if (this.verdicts.size > 1000) this.verdicts.clear();
          this.verdicts.set(digest, await haproxyRefusal(this.config.haproxy, t.pem, 10_000));
        }
        const refusal = this.verdicts.get(digest);
        if (refusal) skipped.push({ item: `certificate of ${t.host} (app ${app.app}-${app.domain})`, reason: `HAProxy refuses it: ${refusal}` });
        else kept.push(t);
      }
      app.tls = kept;
    }
    const report = skipped.map((s) => `  ${s.item}: ${s.reason}`).join('\n');
    if (report && report !== this.reported) log(`left out of routes version ${table.version}, the rest is served:\n${report}`);
    this.reported = report;
    return table;
  }

  private renderOptions() {
    return {
      runDir: this.config.runDir,
      bind: this.config.bind,
      port: this.config.port,
      tlsPort: this.config.tlsPort,
      maxConnections: this.config.maxConnections,
      wakerPort: this.wakerPort,
      defaultCertificate: this.config.defaultCertificate,
      node: this.config.node,
    };
  }

  async apply(raw: unknown): Promise<void> {
    const table = await this.servable(raw);
    this.table = table;
    this.hosts = new Map(table.apps.flatMap((a) => a.hosts.map((h) => [h, a] as const)));
    const options = this.renderOptions();
    // The configuration is named after its own content: a worker that reports the name runs exactly this one.
    const fingerprint = `gearshift-${createHash('sha256')
      .update(JSON.stringify(renderHaproxy(table, options)))
      .digest('hex')
      .slice(0, 16)}`;
    const socket = join(this.config.runDir, 'admin.sock');
    if (fingerprint === this.applied && (this.haproxy || this.adopted)) {
      if ((await servedDescription(socket)) === fingerprint) this.served = table.version;
      if (!this.announced) this.announce(table);
      return;
    }
    // Checked in a folder of its own first: the run directory keeps the configuration last applied, which a router
    // that starts without HAProxy running serves from (see resume).
    const staged = join(this.config.runDir, 'staged');
    this.write(renderHaproxy(table, { ...options, runDir: staged, description: fingerprint }), table, staged);
    const check = spawnSync(this.config.haproxy, ['-c', '-q', '-f', join(staged, 'haproxy.cfg')], { encoding: 'utf8' });
    if (check.status !== 0) {
      // Certificates are what the router cannot fully check by itself (each passed alone, yet together they fail):
      // the routes without any alias certificate still deserve to be served.
      if (table.apps.some((a) => a.tls.length > 0)) {
        log(`HAProxy rejects the configuration with alias certificates; serving the routes without them:\n${check.stderr || check.stdout}`);
        return this.apply({ ...table, apps: table.apps.map((a) => ({ ...a, tls: [] })) });
      }
      log(`refusing a configuration HAProxy rejects; keeping the last good one:\n${check.stderr || check.stdout}`);
      return;
    }
    this.write(renderHaproxy(table, { ...options, description: fingerprint }), table);
    this.applied = fingerprint;
    if (this.haproxy) this.haproxy.kill('SIGUSR2');
    else if (this.adopted || this.adopt()) process.kill(this.adopted!, 'SIGUSR2');
    else if (!this.restarting) this.start();
    // The table counts as served once a worker with it answers; the broker holds operations until then.
    if (await serving(socket, fingerprint, 10_000)) this.served = table.version;
    else log(`haproxy did not start a worker with routes version ${table.version} within 10 s`);
    this.announce(table);
  }

  private announced = false;
  private announce(table: RouteTable): void {
    this.announced = true;
    log(`serving ${table.apps.length} app(s), ${table.apps.reduce((n, a) => n + a.backends.length, 0)} gear(s)`);
  }

  /**
   * Serves before the route table is known (Redis or the broker may be away): takes over the HAProxy an earlier
   * router left running, or else starts HAProxy from the configuration the last router applied, kept in the run
   * directory with its certificates and host map. Visitors see the last routes, never an empty table, while the
   * router catches up. A saved configuration HAProxy refuses is replaced, loudly, by an empty one.
   */
  async resume(): Promise<void> {
    const socket = join(this.config.runDir, 'admin.sock');
    if (this.adopt()) {
      this.restoreTable();
      // A route table that has not changed meanwhile then needs no reload.
      this.applied = (await servedDescription(socket)) ?? '';
      return;
    }
    const cfg = join(this.config.runDir, 'haproxy.cfg');
    if (!existsSync(cfg)) return;
    const check = spawnSync(this.config.haproxy, ['-c', '-q', '-f', cfg], { encoding: 'utf8' });
    if (check.status === 0) {
      this.restoreTable();
      log(`starting haproxy with the configuration last applied (routes version ${this.table.version}, ${this.table.apps.length} app(s))`);
    } else {
      log(`WARNING: HAProxy refuses the configuration last applied; starting with no routes until the route table arrives:\n${check.stderr || check.stdout}`);
      this.table = { version: 0, apps: [] };
      this.hosts = new Map();
      this.write(renderHaproxy(this.table, { ...this.renderOptions(), description: 'gearshift-empty' }), this.table);
    }
    const description = /^\s*description (\S+)/m.exec(readFileSync(cfg, 'utf8'))?.[1];
    this.start();
    // Reloads (SIGUSR2) wait for this HAProxy to answer: one that came before its handlers would stop it.
    if (description && (await serving(socket, description, 10_000))) {
      this.served = this.table.version;
      this.applied = description;
    } else log('haproxy did not answer with the configuration last applied within 10 s');
  }

  /** The table the configuration on disk was rendered from, when it is there and readable. */
  private restoreTable(): void {
    try {
      const saved = JSON.parse(readFileSync(join(this.config.runDir, 'routes.json'), 'utf8')) as RouteTable;
      if (typeof saved?.version !== 'number' || !Array.isArray(saved.apps)) return;
      this.table = saved;
      this.hosts = new Map(saved.apps.flatMap((a) => a.hosts.map((h) => [h, a] as const)));
    } catch {
      // none saved yet (an earlier version of the router), or unreadable: the route table from Redis replaces it soon
    }
  }

  /** Whether HAProxy serves some table already (one from before this router, or one it applied). */
  get serves(): boolean {
    return Boolean(this.haproxy || this.adopted) && this.table.version > 0;
  }

  /**
   * A router that was killed leaves its HAProxy master running, still serving with the last configuration. The next
   * router takes that master over (reloading it with SIGUSR2 like its own) instead of starting a second HAProxy on
   * the same ports: visitors see no gap, and no stale HAProxy keeps answering beside the new one.
   */
  private adopt(): boolean {
    const pidFile = join(this.config.runDir, 'haproxy.pid');
    let pid: number;
    try {
      pid = Number(readFileSync(pidFile, 'utf8').trim().split('\n')[0]);
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmdline.includes(join(this.config.runDir, 'haproxy.cfg'))) return false;
      process.kill(pid, 0);
    } catch {
      return false;
    }
    this.adopted = pid;
    log(`took over haproxy ${pid}, left running by an earlier router`);
    // Not our child: its exit is noticed by looking.
    this.watching = setInterval(() => {
      try {
        process.kill(pid, 0);
      } catch {
        clearInterval(this.watching);
        this.adopted = undefined;
        if (this.stopping) return;
        log(`haproxy ${pid} exited; starting a new one`);
        this.start();
      }
    }, 500);
    return true;
  }

  private start(): void {
    // In a session of its own: HAProxy outlives the router, and a signal to the router's process group (a supervisor
    // or a terminal stopping it) does not reach HAProxy. The next router takes it over (see adopt).
    const child = spawn(this.config.haproxy, ['-W', '-db', '-f', join(this.config.runDir, 'haproxy.cfg')], {
      stdio: ['ignore', 'inherit', 'inherit'],
      detached: true,
    });
    this.haproxy = child;
    const again = (why: string) => {
      if (this.haproxy !== child) return;
      this.haproxy = undefined;
      if (this.stopping) return;
      log(`haproxy ${why}; starting it again in a second`);
      this.restarting = setTimeout(() => {
        this.restarting = undefined;
        this.start();
      }, 1000);
    };
    child.on('exit', (code, signal) => again(`exited (${signal ?? code})`));
    // It could not be started at all (not installed, say): no exit event follows.
    child.on('error', (err) => again(`could not be run: ${err.message}`));
    log(`haproxy listening on http://${this.config.bind}:${this.config.port}`);
  }

  /**
   * Stops watching HAProxy and leaves it serving the routes it has: apps stay up while the router is stopped or
   * upgraded, and the next router takes HAProxy over. `npm run down -- --all` stops HAProxy as well.
   */
  stop(): void {
    this.stopping = true;
    clearTimeout(this.restarting);
    clearInterval(this.watching);
    const pid = this.haproxy?.pid ?? this.adopted;
    if (pid) log(`leaving haproxy ${pid} serving routes version ${this.table.version} for the next router`);
    this.haproxy?.unref();
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  surviveUnexpectedErrors(log);
  mkdirSync(config.runDir, { recursive: true, mode: 0o700 });
  if (!existsSync(config.runDir)) throw new ConfigError(`cannot create ${config.runDir}`);
  const redis = new IORedis(config.redisUrl, { maxRetriesPerRequest: null });
  const subscriber = redis.duplicate();
  redis.on('error', (err) => log(`redis: ${err.message}`));
  subscriber.on('error', (err) => log(`redis: ${err.message}`));
  const brokerQueue = new Queue(BROKER_QUEUE, { connection: redis.duplicate() as unknown as ConnectionOptions, prefix: config.instance });
  brokerQueue.on('error', (err) => log(`broker queue: ${err.message}`));

  // Requests held for idle apps count as traffic in the next sample.
  const heldRequests = new Map<string, number>();
  let router: Router | undefined;
  const waker = new Waker({
    routeFor: (host) => router?.routeFor(host),
    wake: async (route, host) => {
      log(`waking ${route.app}-${route.domain} for a request to ${host}`);
      const data: BrokerJobs['app.wake'] = { appId: route.appId, host };
      await brokerQueue.add('app.wake', stamp(data), {
        jobId: `wake.${route.appId}.${Math.floor(Date.now() / 10000)}`,
        removeOnComplete: true,
        removeOnFail: { count: 100 },
      });
    },
    saw: (appId) => heldRequests.set(appId, (heldRequests.get(appId) ?? 0) + 1),
    timeoutMs: 90_000,
    node: config.node,
  });
  // The port the saved configuration sends idle apps to, when it is free: they keep being woken before the new
  // configuration is applied (and while Redis is away).
  const saved = config.wakerPort ? 0 : savedWakerPort(config.runDir);
  const wakerPort = await waker.listen(saved || config.wakerPort).catch(() => waker.listen(config.wakerPort));
  router = new Router(config, wakerPort);
  const active = router;
  await active.resume();

  // Several routers may share a node; each listens on its own port.
  const routerName = `${config.node}:${config.port}`;

  // Every second: what HAProxy served, per app, for the autoscaler and for idling. Each router writes its own fields.
  const meter = new TrafficMeter();
  // A sample that fails (HAProxy restarting, Redis away) is skipped; the same failure is logged once, not every second.
  let sampleFailure = '';
  let seeded = false;
  const sampler = setInterval(() => {
    (async () => {
      const apps = active.table.apps;
      if (apps.length === 0) return;
      if (!seeded) {
        const reported = await redis.hgetall(trafficKey(config.instance));
        meter.seed(new Map([...sumTraffic(reported).apps].map(([appId, t]) => [appId, t.lastRequestAt])));
        seeded = true;
      }
      const stats = parseStats(await readStats(join(config.runDir, 'admin.sock')));
      const held = new Map(heldRequests);
      heldRequests.clear();
      // One backend per app, its own route's; a web service's own host names are counted apart, for its autoscaling.
      const ids = new Map(apps.map((a) => [backendName(a), a.service ? serviceTrafficId(a.appId, a.service) : a.appId]));
      const traffic = meter.sample(stats, ids, Date.now(), held);
      const services = new Set(apps.filter((a) => a.service).map((a) => serviceTrafficId(a.appId, a.service!)));
      const fieldsOf = (own: boolean) =>
        [...traffic].filter(([id]) => services.has(id) === own).flatMap(([id, t]) => [trafficField(id, routerName), JSON.stringify(t)]);
      const fields = fieldsOf(false);
      if (fields.length > 0) await redis.hset(trafficKey(config.instance), ...fields);
      const serviceFields = fieldsOf(true);
      if (serviceFields.length > 0) await redis.hset(serviceTrafficKey(config.instance), ...serviceFields);
      sampleFailure = '';
    })().catch((err: Error) => {
      if (err.message !== sampleFailure) log(`traffic sample skipped: ${err.message}`);
      sampleFailure = err.message;
    });
  }, 1000);

  // Refreshes run one after another, so an older table never replaces a newer one. Each logs its own failure, so
  // `busy` never rejects and callers that do not wait for it lose nothing.
  let busy: Promise<void> = Promise.resolve();
  let missing = false;
  const refresh = (): void => {
    busy = busy
      .then(async () => {
        const raw = await redis.get(routesKey(config.instance));
        // No table in Redis (the broker has not published since Redis lost its data): the routes served stay as
        // they are rather than being emptied; a router with none serves the unknown-host page.
        if (!raw && active.serves) {
          if (!missing) log(`no route table in Redis; serving routes version ${active.table.version} until the broker publishes one`);
          missing = true;
        } else {
          missing = false;
          await active.apply(raw ? JSON.parse(raw) : { version: 0, apps: [] });
        }
        const ack: RouterAck = { version: active.served, at: Date.now() };
        await redis.hset(routersKey(config.instance), routerName, JSON.stringify(ack));
      })
      .catch((err: Error) => log(`refresh failed: ${err.message}`));
  };
  await subscriber.subscribe(routesChannel(config.instance));
  subscriber.on('message', () => refresh());
  // Catch up with anything missed while Redis was away, and serve the unknown-host page from the start.
  refresh();
  await busy;
  // HAProxy is ours (taken over or started) and has the current table: a router being replaced may go.
  reportReady({ serving: true });
  const timer = setInterval(refresh, 5000);

  const stop = (signal: string) => {
    log(`${signal}: stopping`);
    clearInterval(timer);
    clearInterval(sampler);
    waker.close();
    active.stop();
    brokerQueue.close().catch((err: Error) => log(`closing the broker queue: ${err.message}`));
    subscriber.disconnect();
    // A router that leaves is not waited for.
    redis
      .hdel(routersKey(config.instance), routerName)
      .catch((err: Error) => log(`could not sign off from the routers list: ${err.message}`))
      .finally(() => redis.disconnect());
    setTimeout(() => process.exit(0), 200);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(`gearshift router: ${err.message}`);
    process.exit(2);
  }
  console.error('gearshift router failed:', err);
  process.exit(1);
});
