import { execFile } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import IORedis from 'ioredis';
import { LABELS, type NodeJobs, type SnapshotItem } from '@gearshift/cartridges';
import type { AgentConfig } from './config';
import type { DockerAdapter } from './docker.adapter';
import { PermanentError } from './errors';
import type { StepReporter } from './images';

const run = promisify(execFile);

/**
 * Snapshots of an app's data on this node: a consistent dump of each database taken inside its gear, the keys of
 * Redis over its protocol, and the files of other volumes, in one .tar.gz; and the way back.
 */
export class Snapshots {
  constructor(
    private readonly config: AgentConfig,
    private readonly docker: DockerAdapter,
  ) {}

  private async containerOf(appId: string, gearId: string): Promise<{ id: string; ip: string; env: Record<string, string> }> {
    const [c] = (await this.docker.listContainers({ [LABELS.instance]: this.config.instance, [LABELS.app]: appId, [LABELS.gear]: gearId })).filter(
      (x) => x.state === 'running',
    );
    if (!c) throw new PermanentError(`gear ${gearId.slice(0, 8)} is not running on this node; start the app first`);
    const info = await this.docker.inspectFull(c.id);
    return { id: c.id, ip: Object.values(info.ip)[0] ?? '', env: info.env };
  }

  private workDir(): string {
    const base = join(this.config.dataDir, 'snapshots');
    mkdirSync(base, { recursive: true });
    return mkdtempSync(join(base, 'work-'));
  }

  async take(job: NodeJobs['app.snapshot'], step: StepReporter): Promise<void> {
    const work = this.workDir();
    try {
      const tree = join(work, 'tree');
      // What each item holds, counted in the gear as it was dumped: table → rows (Redis: its keys).
      const counts = new Map<SnapshotItem, Record<string, number>>();
      for (const item of job.items) {
        const target = join(tree, item.file);
        mkdirSync(dirname(target), { recursive: true });
        const c = await this.containerOf(job.appId, item.gearId);
        const t0 = Date.now();
        if (item.method.kind === 'redis') {
          const n = await this.redisDump(c, item.method, target);
          counts.set(item, { keys: n });
          await step(`${item.cartridge}: ${n} key(s) in ${Date.now() - t0} ms`);
          continue;
        }
        const command = item.method.kind === 'exec' ? item.method.dump : ['tar', '-czf', '-', '-C', item.method.path, '.'];
        const r = await this.docker.execStreams(c.id, command, { stdout: createWriteStream(target) });
        if (r.exitCode !== 0) throw new PermanentError(`the snapshot of ${item.cartridge} failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
        await step(`${item.cartridge}: ${item.method.kind === 'exec' ? 'dumped' : `files of ${item.method.path} packed`} in ${Date.now() - t0} ms`);
        if (item.method.kind === 'exec' && item.method.count) {
          const counted = await this.docker.exec(c.id, item.method.count);
          if (counted.exitCode !== 0)
            throw new PermanentError(`counting the rows of ${item.cartridge} failed (exit ${counted.exitCode}): ${counted.output.trim()}`);
          const rows = parseCounts(counted.output);
          counts.set(item, rows);
          const total = Object.values(rows).reduce((a, b) => a + b, 0);
          await step(`${item.cartridge}: ${Object.keys(rows).length} table(s), ${total} row(s)`);
        }
      }
      writeFileSync(
        join(tree, 'gearshift-snapshot.json'),
        `${JSON.stringify({ ...job.meta, items: job.items.map((i) => ({ cartridge: i.cartridge, file: i.file, kind: i.method.kind, ...(counts.has(i) ? { counts: counts.get(i) } : {}) })) }, null, 2)}\n`,
      );
      const archive = join(work, 'snapshot.tar.gz');
      await run('tar', ['-czf', archive, '-C', tree, '.']);
      const res = await fetch(new URL(job.uploadUrl, this.config.brokerUrl), {
        method: 'PUT',
        // Not application/gzip: the broker streams this to disk instead of parsing it as an upload.
        headers: { 'content-type': 'application/x-gearshift-snapshot' },
        body: readFileSync(archive),
      });
      if (!res.ok) throw new Error(`the broker did not take the snapshot (HTTP ${res.status})`);
      await step('snapshot handed to the broker');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  async restore(job: NodeJobs['app.restore'], step: StepReporter): Promise<void> {
    const work = this.workDir();
    try {
      const res = await fetch(new URL(job.sourceUrl, this.config.brokerUrl));
      if (!res.ok || !res.body) throw new PermanentError(`the broker did not give the snapshot (HTTP ${res.status})`);
      const archive = join(work, 'snapshot.tar.gz');
      await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(archive));
      const tree = join(work, 'tree');
      mkdirSync(tree);
      await run('tar', ['-xzf', archive, '-C', tree, '--no-same-owner']);
      for (const item of job.items) {
        const source = join(tree, item.file);
        if (!existsSync(source)) continue;
        const c = await this.containerOf(job.appId, item.gearId);
        const t0 = Date.now();
        if (item.method.kind === 'redis') {
          const n = await this.redisRestore(c, item.method, source);
          await step(`${item.cartridge}: ${n} key(s) restored in ${Date.now() - t0} ms`);
          continue;
        }
        const command = item.method.kind === 'exec' ? item.method.restore : ['tar', '-xzf', '-', '-C', item.method.path];
        const r = await this.docker.execStreams(c.id, command, { stdin: createReadStream(source) });
        if (r.exitCode !== 0) throw new PermanentError(`restoring ${item.cartridge} failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
        await step(`${item.cartridge}: restored in ${Date.now() - t0} ms`);
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  /** Runs a database's `quiesce` or `resume` command in its gear (writes stop, or take again). */
  async writes(job: NodeJobs['app.writes'], step: StepReporter): Promise<void> {
    const c = await this.containerOf(job.appId, job.gearId);
    const t0 = Date.now();
    const r = await this.docker.exec(c.id, job.command);
    const what = job.allow ? 'letting writes to' : 'stopping writes to';
    if (r.exitCode !== 0) throw new PermanentError(`${what} ${job.cartridge} failed (exit ${r.exitCode}): ${r.output.trim()}`);
    await step(`${job.cartridge}: ${job.allow ? 'takes writes again' : 'takes no writes (reads go on)'} after ${Date.now() - t0} ms`);
  }

  private redisClient(c: { ip: string; env: Record<string, string> }, m: { port: number; passwordEnv?: string }): IORedis {
    const client = new IORedis({
      host: c.ip,
      port: m.port,
      password: m.passwordEnv ? c.env[m.passwordEnv] : undefined,
      lazyConnect: true,
      maxRetriesPerRequest: 1,
    });
    // Connection errors reach the caller through the commands that fail; the event itself needs no more.
    client.on('error', () => undefined);
    return client;
  }

  /** Every key with its remaining time to live, as DUMP payloads: one JSON line a key. */
  private async redisDump(c: { ip: string; env: Record<string, string> }, m: { port: number; passwordEnv?: string }, target: string): Promise<number> {
    const redis = this.redisClient(c, m);
    const out = createWriteStream(target);
    let failed: Error | undefined;
    out.on('error', (err) => (failed = err));
    let n = 0;
    try {
      await redis.connect();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scanBuffer(cursor, 'COUNT', 500);
        cursor = next.toString();
        for (const key of keys) {
          const [payload, ttl] = await Promise.all([redis.dumpBuffer(key), redis.pttl(key)]);
          if (!payload) continue;
          out.write(`${JSON.stringify({ key: key.toString('base64'), ttl: ttl > 0 ? ttl : 0, value: payload.toString('base64') })}\n`);
          n++;
        }
      } while (cursor !== '0');
    } finally {
      await new Promise((r) => (failed ? r(undefined) : out.end(r)));
      redis.disconnect();
    }
    if (failed) throw failed;
    return n;
  }

  private async redisRestore(c: { ip: string; env: Record<string, string> }, m: { port: number; passwordEnv?: string }, source: string): Promise<number> {
    const redis = this.redisClient(c, m);
    let n = 0;
    try {
      await redis.connect();
      for (const line of readFileSync(source, 'utf8').split('\n').filter(Boolean)) {
        const { key, ttl, value } = JSON.parse(line) as { key: string; ttl: number; value: string };
        await redis.restore(Buffer.from(key, 'base64'), ttl, Buffer.from(value, 'base64'), 'REPLACE');
        n++;
      }
    } finally {
      redis.disconnect();
    }
    return n;
  }
}

/** A count command's output: one `name<TAB>rows` (or `name|rows`) line a table; other lines are not counts. */
export function parseCounts(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^(.+)[\t|]([0-9]+)$/.exec(line.trim());
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

export type { SnapshotItem };
