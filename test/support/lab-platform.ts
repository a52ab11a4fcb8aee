import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, Platform, ROOT } from './platform';
import { freePort, NODE_FLAGS, Proc } from './processes';

/**
 * A platform whose nodes are lab nodes (hosts of their own, each with its own Docker Engine, on a lab network of this
 * platform's own; see lab.test.ts), for the tests and bench rows that lose a node: a Redis and a registry of its own
 * with passwords, listening where the lab nodes reach them, cartridge images pushed to that registry, and `npm run
 * lab -- up <count>`.
 */
export class LabPlatform {
  p!: Platform;
  gateway = '';
  private redis?: Proc;
  private registry?: Proc;
  private readonly work = mkdtempSync(join(tmpdir(), 'gearshift-lab-'));
  private readonly redisPassword = randomBytes(18).toString('hex');
  private readonly registryPassword = randomBytes(18).toString('hex');
  private redisPort = 0;
  private registryPort = 0;
  private readonly pushedTags: string[] = [];
  /** This platform's own lab (its network, containers gearshift-lab-<id>-<n>): test files run side by side. */
  readonly labName = `gearshift-lab-${randomBytes(3).toString('hex')}`;

  private constructor(readonly count: number) {}

  /** `npm run lab -- ...`, as an operator runs it against this platform. */
  lab(...args: string[]): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [join(ROOT, 'dist/apps/lab/src/main.js'), ...args], {
        env: {
          ...process.env,
          GEARSHIFT_LAB: this.labName,
          GEARSHIFT_PORT: String(this.p?.port ?? 0),
          GEARSHIFT_TOKEN: this.p?.token ?? '',
          GEARSHIFT_INSTANCE: this.p?.instance ?? 'gearshift',
          REDIS_URL: `redis://127.0.0.1:${this.redisPort}`,
          GEARSHIFT_REGISTRY: `${this.gateway}:${this.registryPort}`,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      child.once('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`lab ${args.join(' ')} exited ${code}:\n${out}`))));
    });
  }

  /** Starts the platform named `name` with `count` lab nodes, the cartridge images `cartridges` in its registry. */
  static async start(name: string, count: number, cartridges: string[], env: Record<string, string> = {}): Promise<LabPlatform> {
    const l = new LabPlatform(count);
    try {
      await l.begin(name, cartridges, env);
    } catch (err) {
      await l.stop();
      throw err;
    }
    return l;
  }

  private async begin(name: string, cartridges: string[], env: Record<string, string>): Promise<void> {
    this.gateway = await this.lab('gateway');
    this.redisPort = await freePort();
    const conf = join(this.work, 'redis.conf');
    writeFileSync(
      conf,
      [
        `bind 127.0.0.1 ${this.gateway}`,
        `port ${this.redisPort}`,
        'save ""',
        'appendonly no',
        `dir ${this.work}`,
        `requirepass ${this.redisPassword}`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    this.redis = new Proc(spawn('redis-server', [conf], { stdio: ['ignore', 'pipe', 'pipe'] }), 'redis');
    this.registryPort = await freePort();
    const htpasswd = join(this.work, 'htpasswd');
    execFileSync('htpasswd', ['-iBc', htpasswd, 'gearshift'], { input: this.registryPassword, stdio: ['pipe', 'ignore', 'ignore'] });
    const registryConf = join(this.work, 'registry.yml');
    writeFileSync(
      registryConf,
      [
        'version: 0.1',
        'log: { level: warn }',
        `storage: { filesystem: { rootdirectory: ${join(this.work, 'registry')} }, delete: { enabled: true } }`,
        `auth: { htpasswd: { realm: gearshift, path: ${htpasswd} } }`,
        `http: { addr: "0.0.0.0:${this.registryPort}" }`,
        '',
      ].join('\n'),
    );
    this.registry = new Proc(spawn('docker-registry', ['serve', registryConf], { stdio: ['ignore', 'pipe', 'pipe'] }), 'registry');
    await eventually(
      'the registry to answer',
      async () => (await fetch(`http://${this.gateway}:${this.registryPort}/v2/`).catch(() => null))?.status === 401,
      20_000,
      100,
    );
    this.p = await Platform.start(
      name,
      {},
      {
        router: true,
        env: {
          REDIS_URL: `redis://:${this.redisPassword}@127.0.0.1:${this.redisPort}`,
          GEARSHIFT_ADVERTISE_ADDRESS: this.gateway,
          GEARSHIFT_REGISTRY: `${this.gateway}:${this.registryPort}`,
          GEARSHIFT_REGISTRY_USER: 'gearshift',
          GEARSHIFT_REGISTRY_PASSWORD: this.registryPassword,
          // The platform's default, which the node-loss test and bench measure (other test files allow more).
          GEARSHIFT_HEARTBEAT_TIMEOUT_MS: '3000',
          ...env,
        },
      },
    );
    const pushed = execFileSync(process.execPath, [...NODE_FLAGS, join(ROOT, 'dist/apps/node-agent/src/prepare-images.js'), '--push', cartridges.join(',')], {
      env: {
        ...process.env,
        GEARSHIFT_REGISTRY: `127.0.0.1:${this.registryPort}`,
        GEARSHIFT_REGISTRY_USER: 'gearshift',
        GEARSHIFT_REGISTRY_PASSWORD: this.registryPassword,
      },
      encoding: 'utf8',
    });
    this.pushedTags.push(...[...pushed.matchAll(/pushed as (\S+)/g)].map((m) => m[1]));
    assert.equal(this.pushedTags.length, cartridges.length, pushed);
    assert.match(await this.lab('up', String(this.count)), new RegExp(`${this.count} lab node\\(s\\) up`));
  }

  /** The host container of lab node `node` (`lab-2` → gearshift-lab-<id>-2). */
  host(node: string): string {
    return `${this.labName}-${node.replace(/^lab-/, '')}`;
  }

  inNode(node: string, ...args: string[]): string {
    return execFileSync('docker', ['exec', this.host(node), ...args], { encoding: 'utf8' });
  }

  /** The end of each lab node's agent log, for a failure's message. */
  nodeLogs(): string {
    return Array.from({ length: this.count }, (_, i) => `lab-${i + 1}`)
      .map((n) => {
        try {
          return `--- ${n}\n${this.inNode(n, 'tail', '-30', '/var/lib/gearshift/logs/agent.log')}`;
        } catch {
          return `--- ${n}: no log`;
        }
      })
      .join('\n');
  }

  /** The node host dies at once, as a machine that loses its power. */
  kill(node: string): void {
    execFileSync('docker', ['kill', this.host(node)]);
  }

  /** The node host starts again, as a machine switched back on: its engine, then its agent (as join.sh started them). */
  boot(node: string): void {
    execFileSync('docker', ['start', this.host(node)]);
    this.inNode(
      node,
      'sh',
      '-c',
      [
        'setsid nohup dockerd >>/var/log/gearshift-dockerd.log 2>&1 </dev/null &',
        'for i in $(seq 1 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done',
        'node=$(ls -d /opt/gearshift-node/node-v*/bin/node 2>/dev/null | head -1); node=${node:-$(command -v node)}',
        'set -a; . /etc/gearshift/agent.env; set +a',
        'mkdir -p /var/lib/gearshift/logs',
        'cd / && setsid nohup "$node" /opt/gearshift/dist/apps/supervisor/src/main.js agent >>/var/lib/gearshift/logs/supervisor.log 2>&1 </dev/null &',
      ].join('\n'),
    );
  }

  async stop(): Promise<void> {
    await this.lab('down').catch((err: Error) => console.error(err.message));
    await this.p?.stop();
    await this.redis?.kill();
    await this.registry?.kill();
    for (const tag of this.pushedTags) execFileSync('docker', ['rmi', tag], { stdio: 'ignore' });
    rmSync(this.work, { recursive: true, force: true });
  }
}
