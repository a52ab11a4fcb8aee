import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import IORedis from 'ioredis';
import { routesChannel, routesKey, type RouteTable } from '@gearshift/cartridges';
import { ConfigError, loadConfig, type RouterConfig } from './config';
import { renderHaproxy, UNAVAILABLE_PAGE, UNKNOWN_HOST_PAGE, type RenderedConfig } from './haproxy-config';

const log = (msg: string) => console.log(`${new Date().toISOString()} router ${msg}`);

/** Writes a file through a temporary name, so HAProxy never reads half of it. */
function writeAtomic(path: string, content: string, mode = 0o644): void {
  writeFileSync(`${path}.tmp`, content, { mode });
  renameSync(`${path}.tmp`, path);
}

/**
 * Runs HAProxy in master-worker mode and keeps its configuration equal to the route table in Redis. A change is
 * validated with `haproxy -c` and applied with SIGUSR2: the master starts new workers with the listening sockets it
 * holds, and old workers finish their open connections, so nothing is dropped.
 */
class Router {
  private haproxy?: ChildProcess;
  private restarting?: NodeJS.Timeout;
  private applied = '';
  private stopping = false;

  constructor(private readonly config: RouterConfig) {}

  private write(rendered: RenderedConfig): void {
    const dir = this.config.runDir;
    mkdirSync(join(dir, 'certs'), { recursive: true, mode: 0o700 });
    mkdirSync(join(dir, 'pages'), { recursive: true });
    writeAtomic(join(dir, 'pages', 'unknown-host.html'), UNKNOWN_HOST_PAGE);
    writeAtomic(join(dir, 'pages', 'unavailable.http'), UNAVAILABLE_PAGE);
    for (const file of readdirSync(join(dir, 'certs'))) if (!(file in rendered.certificates)) rmSync(join(dir, 'certs', file), { force: true });
    for (const [file, pem] of Object.entries(rendered.certificates)) writeAtomic(join(dir, 'certs', file), pem, 0o600);
    writeAtomic(join(dir, 'hosts.map'), rendered.hostsMap);
    writeAtomic(join(dir, 'haproxy.cfg'), rendered.config);
  }

  async apply(table: RouteTable): Promise<void> {
    const rendered = renderHaproxy(table, {
      runDir: this.config.runDir,
      bind: this.config.bind,
      port: this.config.port,
      tlsPort: this.config.tlsPort,
      maxConnections: this.config.maxConnections,
      defaultCertificate: this.config.defaultCertificate,
    });
    const fingerprint = JSON.stringify(rendered);
    if (fingerprint === this.applied && this.haproxy) return;
    this.write(rendered);
    const check = spawnSync(this.config.haproxy, ['-c', '-q', '-f', join(this.config.runDir, 'haproxy.cfg')], { encoding: 'utf8' });
    if (check.status !== 0) {
      log(`refusing a configuration HAProxy rejects; keeping the last good one:\n${check.stderr || check.stdout}`);
      return;
    }
    this.applied = fingerprint;
    if (this.haproxy) this.haproxy.kill('SIGUSR2');
    else if (!this.restarting) this.start();
    log(`serving ${table.apps.length} app(s), ${table.apps.reduce((n, a) => n + a.backends.length, 0)} gear(s)`);
  }

  private start(): void {
    const child = spawn(this.config.haproxy, ['-W', '-db', '-f', join(this.config.runDir, 'haproxy.cfg')], { stdio: ['ignore', 'inherit', 'inherit'] });
    this.haproxy = child;
    child.on('exit', (code, signal) => {
      this.haproxy = undefined;
      if (this.stopping) return;
      log(`haproxy exited (${signal ?? code}); starting it again in a second`);
      this.restarting = setTimeout(() => {
        this.restarting = undefined;
        this.start();
      }, 1000);
    });
    log(`haproxy listening on http://${this.config.bind}:${this.config.port}`);
  }

  stop(): void {
    this.stopping = true;
    clearTimeout(this.restarting);
    this.haproxy?.kill('SIGTERM');
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  mkdirSync(config.runDir, { recursive: true, mode: 0o700 });
  if (!existsSync(config.runDir)) throw new ConfigError(`cannot create ${config.runDir}`);
  const router = new Router(config);
  const redis = new IORedis(config.redisUrl, { maxRetriesPerRequest: null });
  const subscriber = redis.duplicate();
  redis.on('error', (err) => log(`redis: ${err.message}`));
  subscriber.on('error', (err) => log(`redis: ${err.message}`));

  let busy: Promise<void> = Promise.resolve();
  const refresh = () => {
    busy = busy.then(async () => {
      const raw = await redis.get(routesKey(config.instance));
      const table: RouteTable = raw ? (JSON.parse(raw) as RouteTable) : { version: 0, apps: [] };
      await router.apply(table);
    }).catch((err: Error) => log(`refresh failed: ${err.message}`));
    return busy;
  };
  await subscriber.subscribe(routesChannel(config.instance));
  subscriber.on('message', () => void refresh());
  // Catch up with anything missed while Redis was away, and serve the unknown-host page from the start.
  await refresh();
  const timer = setInterval(() => void refresh(), 5000);

  const stop = (signal: string) => {
    log(`${signal}: stopping`);
    clearInterval(timer);
    router.stop();
    subscriber.disconnect();
    redis.disconnect();
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
