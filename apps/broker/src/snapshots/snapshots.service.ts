import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import {
  copyFileSync,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { ArchiveError, inspectArchive, type NodeJob, type SnapshotItem } from '@gearshift/cartridges';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { conflict, GearshiftError, notFound, ruleViolation } from '../common/errors';
import { OperationsRepository } from '../operations/operations.repository';
import { AppAccess } from '../apps/app-access.service';
import { ChangeRunner } from '../changes/change-runner';
import type { App } from '../apps/app.entity';
import { GearSpecsService } from '../apps/gear-specs.service';
import { CatalogService } from '../cartridges/catalog.service';
import { OperationsService, presentOperation, type StageHandler } from '../operations/operations.service';
import type { Operation } from '../operations/operation.entity';
import { contextOf, newContext, type SnapshotContext } from '../operations/contexts';
import type { User } from '../users/user.entity';

/**
 * Snapshots: an app's data as one .tar.gz — each database's own consistent dump, Redis's keys, the files of other
 * volumes — taken by the node that runs the gears, and restored into the same app or another with the same
 * cartridges.
 */
@Injectable()
export class SnapshotsService implements OnModuleInit, StageHandler {
  constructor(
    private readonly operationsRepository: OperationsRepository,
    private readonly access: AppAccess,
    private readonly changes: ChangeRunner,
    private readonly operations: OperationsService,
    private readonly specs: GearSpecsService,
    private readonly catalog: CatalogService,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

  onModuleInit(): void {
    this.operations.registerStages('app.snapshot', this);
    this.operations.registerStages('app.restore', this);
  }

  private file(opId: string): string {
    return join(this.config.dataDir, 'snapshots', `${opId}.tar.gz`);
  }

  /** The latest snapshot taken of an app, kept on the broker host: the one copy that outlives the node it was taken on. */
  private kept(appId: string): string {
    return join(this.config.dataDir, 'snapshots', 'kept', `${appId}.tar.gz`);
  }

  /** The app's latest kept snapshot and when it was taken; null when this broker keeps none. */
  latestKept(appId: string): { archive: Buffer; takenAt: Date } | null {
    const file = this.kept(appId);
    if (!existsSync(file)) return null;
    return { archive: readFileSync(file), takenAt: statSync(file).mtime };
  }

  /** Removes the kept snapshots of apps that are gone: an app's data does not outlive the app. */
  pruneKept(appIds: Set<string>): void {
    const dir = join(this.config.dataDir, 'snapshots', 'kept');
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      if (!appIds.has(name.replace(/\.tar\.gz(\.tmp)?$/, ''))) rmSync(join(dir, name), { force: true });
    }
  }

  /** What a snapshot of this app holds, gear by gear, and the node that has them. */
  private async itemsOf(app: App): Promise<{ nodeId: string; items: SnapshotItem[] }> {
    const specs = await this.specs.specs(app);
    const items: SnapshotItem[] = [];
    let nodeId: string | undefined;
    const seen = new Set<string>();
    // A database an upgrade replaced is stopped: its data is the new one's now.
    const kept = new Set((app.cartridges ?? []).filter((c) => c.supersededBy).map((c) => c.cartridge));
    for (const spec of specs) {
      if (spec.service) {
        // A named service's volumes are its own (one per service, whichever gear mounts it), kept apart from the
        // cartridges' data under services/NAME/.
        const key = `services/${spec.service}`;
        if (seen.has(key) || spec.volumes.length === 0) continue;
        const gear = app.gears!.find((g) => g.id === spec.gearId)!;
        for (const v of spec.volumes) {
          const infix = `-svc-${spec.service}-`;
          items.push({
            gearId: spec.gearId,
            cartridge: `service ${spec.service}`,
            file: `${key}/volumes/${v.name.slice(v.name.lastIndexOf(infix) + infix.length)}.tar.gz`,
            method: { kind: 'files', path: v.path },
          });
        }
        seen.add(key);
        if (nodeId && nodeId !== gear.nodeId)
          throw ruleViolation('/', 'one-node', `app "${app.name}" keeps data on several nodes; snapshots take one node's data at a time`);
        nodeId = gear.nodeId;
        continue;
      }
      if (seen.has(spec.cartridge) || kept.has(spec.cartridge)) continue;
      const c = this.catalog.find(spec.cartridge);
      const snap = c?.manifest.snapshot;
      const gear = app.gears!.find((g) => g.id === spec.gearId)!;
      let item: SnapshotItem | undefined;
      if (snap?.protocol === 'redis') {
        const port = c!.manifest.endpoints[0].port;
        item = {
          gearId: spec.gearId,
          cartridge: spec.cartridge,
          file: `${spec.cartridge}/${snap.file}`,
          method: { kind: 'redis', port, passwordEnv: snap['password-env'] },
        };
      } else if (snap?.dump && snap.restore) {
        item = {
          gearId: spec.gearId,
          cartridge: spec.cartridge,
          file: `${spec.cartridge}/${snap.file}`,
          method: { kind: 'exec', dump: [...snap.dump], restore: [...snap.restore] },
        };
      }
      if (item) items.push(item);
      else {
        // Volumes without a dump of their own are taken as files.
        for (const v of spec.volumes) {
          const short = v.name.slice(v.name.lastIndexOf(`${spec.cartridge}-`) + spec.cartridge.length + 1);
          items.push({
            gearId: spec.gearId,
            cartridge: spec.cartridge,
            file: `${spec.cartridge}/volumes/${short}.tar.gz`,
            method: { kind: 'files', path: v.path },
          });
        }
      }
      if (items.some((i) => i.gearId === spec.gearId)) {
        seen.add(spec.cartridge);
        if (nodeId && nodeId !== gear.nodeId)
          throw ruleViolation('/', 'one-node', `app "${app.name}" keeps data on several nodes; snapshots take one node's data at a time`);
        nodeId = gear.nodeId;
      }
    }
    if (!nodeId || items.length === 0) throw ruleViolation('/', 'has-data', `app "${app.name}" has no data to snapshot: no database, cache or volume`);
    return { nodeId, items };
  }

  private async start(user: User, app: App, kind: 'app.snapshot' | 'app.restore', nodeId: string, step: string, context: SnapshotContext): Promise<Operation> {
    const op = await this.changes.begin(app, (repos) =>
      this.operations.create(repos, kind, app.id, user, [{ nodeId, job: kind }], step, newContext(kind, context)),
    );
    await this.changes.send(op, { routes: false });
    return op;
  }

  /** Takes a snapshot and streams it; nothing of it stays on the broker. */
  async take(user: User, domainName: string, appName: string, res: import('express').Response): Promise<void> {
    const { app } = await this.access.requireApp(user, domainName, appName, 'develop');
    if (app.desiredState !== 'started' && app.desiredState !== 'idle') throw conflict(`app "${appName}" is ${app.desiredState}; start it to take a snapshot`);
    const { nodeId } = await this.itemsOf(app);
    mkdirSync(join(this.config.dataDir, 'snapshots'), { recursive: true });
    const token = randomBytes(24).toString('base64url');
    const op = await this.start(user, app, 'app.snapshot', nodeId, `snapshot of ${appName}`, { token, domain: domainName });
    const done = await this.operations.wait(op, 600);
    const file = this.file(op.id);
    try {
      if (done.state !== 'succeeded' || !existsSync(file)) {
        throw new GearshiftError(
          'unavailable',
          `the snapshot of "${appName}" ${done.state === 'failed' ? `failed: ${done.error}` : 'did not finish in time'}`,
          { operation: presentOperation(done) },
        );
      }
      // A copy stays on the broker host, replacing the one before: a node that is lost takes its data with it.
      mkdirSync(join(this.config.dataDir, 'snapshots', 'kept'), { recursive: true, mode: 0o700 });
      copyFileSync(file, `${this.kept(app.id)}.tmp`);
      renameSync(`${this.kept(app.id)}.tmp`, this.kept(app.id));
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      res.setHeader('content-type', 'application/gzip');
      res.setHeader('content-disposition', `attachment; filename="${appName}-${domainName}-${stamp}.tar.gz"`);
      res.setHeader('x-gearshift-operation', op.id);
      await pipeline(createReadStream(file), res);
    } finally {
      rmSync(file, { force: true });
    }
  }

  /** The node's upload of a snapshot it took, by the token in its job. */
  async receive(opId: string, token: string, body: Readable): Promise<void> {
    const op = /^[0-9a-f-]{36}$/.test(opId) ? await this.operationsRepository.findById(opId) : null;
    // A database upgrade takes snapshots too (the old database's dump, the new one's counts).
    const context = op?.kind === 'app.snapshot' || op?.kind === 'cartridge.upgrade' ? contextOf(op, 'app.snapshot', 'cartridge.upgrade') : undefined;
    const expected = context?.token;
    if (!op || !expected || token.length !== expected.length || !timingSafeEqual(Buffer.from(token), Buffer.from(expected))) {
      throw notFound(`snapshot "${opId}"`);
    }
    const file = context.upload ? join(this.config.dataDir, 'snapshots', `${context.upload}.tar.gz`) : this.file(op.id);
    await pipeline(body, createWriteStream(file, { mode: 0o600 }));
  }

  async restore(user: User, domainName: string, appName: string, archive: Buffer, waitSeconds?: number) {
    const { app } = await this.access.requireApp(user, domainName, appName, 'develop');
    let paths: string[];
    try {
      paths = (await inspectArchive(archive, this.config.maxUnpackedBytes)).paths;
    } catch (err) {
      if (err instanceof ArchiveError) throw ruleViolation(`/archive${err.entry ? `/${err.entry}` : ''}`, err.rule, `the snapshot was refused: ${err.message}`);
      throw err;
    }
    if (!paths.includes('gearshift-snapshot.json'))
      throw ruleViolation('/archive', 'snapshot', 'this is not a Gearshift snapshot (it has no gearshift-snapshot.json)');
    const { nodeId, items } = await this.itemsOf(app);
    // What holds the data: a cartridge's folder, or a named service's (services/NAME).
    const holderOf = (file: string) =>
      file
        .split('/')
        .slice(0, file.startsWith('services/') ? 2 : 1)
        .join('/');
    const holders = new Set(items.map((i) => holderOf(i.file)));
    const foreign = [...new Set(paths.filter((p) => p.includes('/')).map(holderOf))].filter((c) => !holders.has(c));
    if (foreign.length > 0)
      throw ruleViolation(
        '/archive',
        'same-cartridges',
        `the snapshot holds data of ${foreign.map((f) => f.replace(/^services\//, 'service ')).join(', ')}, which app "${appName}" does not have; add the cartridge(s) or service(s) first`,
      );
    const token = randomBytes(24).toString('base64url');
    mkdirSync(join(this.config.dataDir, 'snapshots'), { recursive: true });
    const pending = join(this.config.dataDir, 'snapshots', `restore-${token}.tar.gz`);
    writeFileSync(pending, archive, { mode: 0o600 });
    let op: Operation;
    try {
      op = await this.start(user, app, 'app.restore', nodeId, `restore a snapshot into ${appName}`, { token, domain: domainName });
    } catch (err) {
      rmSync(pending, { force: true });
      throw err;
    }
    const done = waitSeconds ? await this.operations.wait(op, waitSeconds) : op;
    return {
      app: appName,
      domain: domainName,
      restores: [...holders].filter((c) => paths.some((p) => p.startsWith(`${c}/`))).map((c) => c.replace(/^services\//, 'service ')),
      operation: presentOperation(done),
    };
  }

  /** For the node restoring: the uploaded snapshot, by the token in its job (the file's name). */
  restoreSource(token: string): NodeJS.ReadableStream {
    const path = join(this.config.dataDir, 'snapshots', `restore-${token}.tar.gz`);
    if (!/^[A-Za-z0-9_-]{20,64}$/.test(token) || !existsSync(path)) throw notFound('snapshot');
    return createReadStream(path);
  }

  // ---- StageHandler --------------------------------------------------------------------------------------------

  async job(op: Operation, app: App): Promise<NodeJob> {
    const { items } = await this.itemsOf(app);
    const { token, domain } = contextOf(op, 'app.snapshot', 'app.restore');
    if (op.kind === 'app.snapshot') {
      const meta = { app: app.name, domain, takenAt: new Date().toISOString(), cartridges: (app.cartridges ?? []).map((c) => c.cartridge) };
      return { name: 'app.snapshot', data: { operationId: op.id, appId: app.id, uploadUrl: `/api/v1/snapshots/${op.id}?token=${token}`, items, meta } };
    }
    return { name: 'app.restore', data: { operationId: op.id, appId: app.id, sourceUrl: `/api/v1/snapshots/restore/${token}`, items } };
  }

  async next() {
    return null;
  }

  async ended(op: Operation): Promise<void> {
    if (op.kind === 'app.restore') rmSync(join(this.config.dataDir, 'snapshots', `restore-${contextOf(op, 'app.restore').token}.tar.gz`), { force: true });
  }
}
