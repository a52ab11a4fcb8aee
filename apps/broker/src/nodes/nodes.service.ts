import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { specHash, type BrokerJobs, type GearReport } from '@gearshift/cartridges';
import type { App } from '../apps/app.entity';
import type { Gear } from '../apps/gear.entity';
import { BROKER_CONFIG, QUIET_NODE_MS, type BrokerConfig } from '../config';
import { conflict, GearshiftError, notFound } from '../common/errors';
import { AppsRepository } from '../apps/apps.repository';
import { NodesRepository } from '../fleet/nodes.repository';
import { OperationsRepository } from '../operations/operations.repository';
import { GearSpecsService } from '../apps/gear-specs.service';
import { convergeJob, GONE_EPOCH } from '../operations/converge-job';
import { QueueService } from '../queue/queue.service';
import { RoutesService } from '../routes/routes.service';
import { Metrics } from '../metrics/metrics';
import { CatalogService } from '../cartridges/catalog.service';
import type { User } from '../users/user.entity';
import type { NodeUsage } from '../fleet/nodes.repository';

/**
 * How long a node that reports the same gears goes without its apps' desired state being looked at, and an app that
 * drifted, or waits on an operation, without a comparison while nothing of it changes.
 */
const RECOMPARE_MS = 10_000;
/** How many times a gear that drifted is converged before it is left failed, as a job is retried (README). */
export const DRIFT_ATTEMPTS = 5;
/** How many apps read for heartbeats are kept for the next beats of their other nodes (see readApps). */
const APPS_READ_KEPT = 500;
/** A heartbeat this old when the broker takes it from the queue is stale. */
const STALE_HEARTBEAT_MS = 5_000;

const requireAdmin = (user: User) => {
  if (!user.isAdmin) throw new GearshiftError('forbidden', 'only an administrator can manage nodes');
};

@Injectable()
export class NodesService {
  private readonly logger = new Logger('nodes');
  /**
   * Per node, per app: a digest of what the node reported of the app's gears and the version of the app's desired
   * state when they were last compared, when, and whether the app was found in order.
   */
  private readonly compared = new Map<string, Map<string, { reported: string; desired: string; at: number; inOrder: boolean }>>();
  /** Per node: a digest of everything its last heartbeat reported, and when its apps' desired state was last read. */
  private readonly beats = new Map<string, { reported: string; at: number }>();
  /** Apps as a heartbeat last read them, under the versions they were read with; the latest APPS_READ_KEPT (see readApps). */
  private readonly appsRead = new Map<string, { key: string; app: App }>();
  /** Per gear: how many converges its drift has been sent in a row, and in which 5 s bucket the last one went. */
  private readonly driftAttempts = new Map<string, { count: number; bucket: number }>();

  constructor(
    private readonly appsRepository: AppsRepository,
    private readonly nodesRepository: NodesRepository,
    private readonly operationsRepository: OperationsRepository,
    private readonly queue: QueueService,
    private readonly specs: GearSpecsService,
    private readonly routes: RoutesService,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    private readonly metrics: Metrics,
    private readonly catalog: CatalogService,
  ) {}

  private present(u: NodeUsage) {
    const { node } = u;
    const silentMs = node.lastHeartbeat ? Date.now() - node.lastHeartbeat.getTime() : null;
    // Ready: it is given gears (as placement decides: not lost, and not silent for long).
    const ready = !node.lostAt && silentMs !== null && silentMs <= Math.max(this.config.heartbeatTimeoutMs, QUIET_NODE_MS);
    return {
      id: node.id,
      name: node.name,
      // Lost (the leader stopped hearing it, and moved what it could elsewhere) says more than active or draining.
      state: node.lostAt ? ('lost' as const) : node.state,
      ...(node.lostAt ? { lostAt: node.lostAt } : {}),
      ready,
      lastHeartbeat: node.lastHeartbeat,
      address: node.address,
      zone: node.zone,
      labels: node.labels,
      capacity: { memoryMb: node.memoryMb, maxGears: node.maxGears },
      allocated: { memoryMb: u.allocatedMb, gears: u.gears },
      agentRssMb: node.agentRssMb,
    };
  }

  async list(user: User) {
    requireAdmin(user);
    return (await this.nodesRepository.usage()).map((u) => this.present(u));
  }

  async summary() {
    return (await this.nodesRepository.usage()).map((u) => this.present(u));
  }

  /** Places no new gear on the node; moving its gears off is the drain's (lifecycle/node-drain.service.ts). */
  async markDraining(user: User, id: string) {
    requireAdmin(user);
    const node = await this.requireNode(id);
    await this.nodesRepository.setState(node.id, 'draining');
    return this.presentOne(node.id);
  }

  async activate(user: User, id: string) {
    requireAdmin(user);
    const node = await this.requireNode(id);
    await this.nodesRepository.setState(node.id, 'active');
    return this.presentOne(node.id);
  }

  async setPlacement(user: User, id: string, placement: { zone?: string | null; labels?: Record<string, string> }) {
    requireAdmin(user);
    const node = await this.requireNode(id);
    await this.nodesRepository.setPlacement(node.id, placement);
    return this.presentOne(node.id);
  }

  private async presentOne(id: string) {
    return this.present((await this.nodesRepository.usage()).find((u) => u.node.id === id)!);
  }

  async remove(user: User, id: string): Promise<void> {
    requireAdmin(user);
    const node = await this.requireNode(id);
    const usage = (await this.nodesRepository.usage()).find((u) => u.node.id === node.id);
    if (usage && usage.gears > 0) throw conflict(`node ${node.name} still has ${usage.gears} gear(s); drain it and move or delete its apps first`);
    await this.nodesRepository.delete(node.id);
    await this.queue.removeNodeUser(node.id);
  }

  async requireNode(idOrName: string) {
    const node = /^[0-9a-f-]{36}$/.test(idOrName) ? await this.nodesRepository.findById(idOrName) : await this.nodesRepository.findByName(idOrName);
    if (!node) throw notFound(`node "${idOrName}"`);
    return node;
  }

  /**
   * A heartbeat: the node is alive, and this is what runs on it. Compares it with the desired state and sends a
   * converge job for every app that drifted (a gear missing, stopped, or different), and a removal for containers of
   * apps the platform no longer has.
   */
  async handleHeartbeat(hb: BrokerJobs['node.heartbeat']): Promise<void> {
    const repos = { apps: this.appsRepository, nodes: this.nodesRepository, operations: this.operationsRepository };
    // A beat that waited long in the queue has later ones of the same node queued behind it: a broker that fell
    // behind (a hundred nodes beating while it places thousands of gears) catches up by skipping it, as long as the
    // node counts as alive. A node whose clock runs apart from the broker's loses no more than the beats in between.
    const now = new Date();
    const stale = now.getTime() - hb.at > STALE_HEARTBEAT_MS;
    const address = hb.capacity.address ?? '127.0.0.1';
    const before = await repos.nodes.recordHeartbeat(
      hb.nodeId,
      { memoryMb: hb.capacity.memoryMb, maxGears: hb.capacity.maxGears, address, rssMb: hb.memoryRssMb },
      now,
      stale ? new Date(now.getTime() - this.config.heartbeatTimeoutMs / 3) : null,
    );
    // Unknown, or a stale beat of a node that counts as alive.
    if (!before) return;
    const node = { id: hb.nodeId, ...before };
    const addressChanged = node.address !== address;
    if (hb.usage) this.metrics.recordGearUsage(node.id, hb.usage, node.name);
    if (hb.jobs) this.metrics.jobsEnded(node.name, hb.jobs);
    if (addressChanged) this.routes.schedule();
    if (node.lostAt) {
      // The gears it still owns (the ones that could not move) serve again.
      this.logger.warn(`node ${node.name} reports again after it was lost`);
      // Its gears may have moved meanwhile: what it runs is compared now, whatever it reported before.
      this.compared.delete(node.id);
      this.routes.schedule();
    }
    // An app whose gears the node reports as it did last time, and whose desired state is as it was, was compared
    // moments ago: with a hundred nodes of a hundred apps each, comparing every app on every beat is most of the
    // broker's work. What an app runs changing (a container gone, stopped, replaced) is compared at once; what it
    // should run changing (its rows, gears, cartridges or release), within seconds. Postgres keeps a version of what
    // each app should run, and only the apps whose report or version changed are read whole.
    const digestOf = (reports: GearReport[] = []) =>
      createHash('sha1')
        .update(JSON.stringify([...reports].sort((a, b) => a.gearId.localeCompare(b.gearId))))
        .digest('base64');
    const reported = digestOf(hb.gears);
    const beat = this.beats.get(node.id);
    if (beat && beat.reported === reported && this.compared.has(node.id) && Date.now() - beat.at < RECOMPARE_MS) return;
    this.beats.set(node.id, { reported, at: Date.now() });
    const desired = await repos.apps.desiredOnNode(node.id);
    const reportsOf = new Map<string, GearReport[]>();
    for (const g of hb.gears) reportsOf.set(g.appId, [...(reportsOf.get(g.appId) ?? []), g]);
    // The catalogue the specs are built from is part of what an app should run: a reload that changes a cartridge
    // changes every digest of its apps. An app found in order is compared again only when something of it changes.
    const catalog = this.catalog.fingerprint();
    const desiredOf = new Map(desired.map((d) => [d.appId, `${d.desired}|${catalog}`]));
    const lastCompared = this.compared.get(node.id) ?? new Map<string, { reported: string; desired: string; at: number; inOrder: boolean }>();
    this.compared.set(node.id, lastCompared);
    const nowMs = Date.now();
    const subjects = new Map<string, { reported: string; desired: string }>();
    for (const appId of new Set([...desiredOf.keys(), ...reportsOf.keys()])) {
      const now = { reported: digestOf(reportsOf.get(appId)), desired: desiredOf.get(appId) ?? '' };
      const last = lastCompared.get(appId);
      const fresh = last && last.reported === now.reported && last.desired === now.desired && (last.inOrder || nowMs - last.at < RECOMPARE_MS);
      if (!fresh) subjects.set(appId, now);
    }
    for (const appId of lastCompared.keys()) if (!desiredOf.has(appId) && !reportsOf.has(appId)) lastCompared.delete(appId);
    if (subjects.size === 0) return;
    // What the node saw before an app's operation ended says nothing of what the operation left: a beat that waited
    // in the queue (a hundred nodes beating into a busy broker) would find the gears it created missing and converge
    // them again, and after a few such beats leave them failed. Those apps are compared on a later beat.
    const busy = await repos.operations.appsWithActiveOperations(new Date(hb.at));
    const observed = new Map(hb.gears.map((g) => [g.gearId, g]));
    // Apps an operation holds back are not read: nothing of them is compared or stored now. Their gears placed here
    // are known from the versions read, so their containers are not taken for strays.
    const apps = await this.readApps(
      [...subjects.keys()].filter((id) => desiredOf.has(id) && !busy.has(id)),
      // change_seq moves with desired_seq too: it alone says whether an app read earlier is the app as stored.
      new Map(desired.map((d) => [d.appId, d.stored])),
    );
    // Every gear placed on the node, of the apps compared now or not: a container of any other is a stray.
    const known = new Set<string>(desired.flatMap((d) => d.gearIds));
    const inOrder = new Set<string>();
    const bucket = Math.floor(Date.now() / 5000);
    const changed: GearReport[] = [];
    for (const app of apps) {
      const specs = (await this.specs.cachedSpecs(app)).filter((s) => app.gears!.find((g) => g.id === s.gearId)?.nodeId === node.id);
      specs.forEach((s) => known.add(s.gearId));
      // Store only what changed: a quiet node costs no writes.
      const failed = new Set<string>();
      for (const gear of app.gears!.filter((g) => g.nodeId === node.id)) {
        const report = observed.get(gear.id) ?? { gearId: gear.id, appId: app.id, state: 'missing' as const, ports: {} };
        // A gear left failed keeps its reason until it runs again (a new operation on the app converges it anew).
        if (gear.state === 'failed' && report.state !== 'running') {
          failed.add(gear.id);
          continue;
        }
        if (gearChanged(gear, report)) changed.push(report);
      }
      if (app.desiredState === 'deleting') continue;
      const extra = hb.gears.some((g) => g.appId === app.id && !specs.some((s) => s.gearId === g.gearId));
      const drifted = specs.filter((s) => {
        const o = observed.get(s.gearId);
        const off = !o || o.specHash !== specHash(s) || (s.running ? o.state !== 'running' && o.state !== 'starting' : o.state === 'running');
        if (!off) this.driftAttempts.delete(s.gearId);
        return off && !failed.has(s.gearId);
      });
      // Retrying ends: a gear converged DRIFT_ATTEMPTS times that is still off (an image that cannot be pulled, a
      // process that exits again and again) is left failed with the reason, not converged every few seconds forever.
      for (const s of [...drifted]) {
        const seen = this.driftAttempts.get(s.gearId);
        if (seen?.bucket === bucket) continue;
        const count = (seen?.count ?? 0) + 1;
        if (count <= DRIFT_ATTEMPTS) {
          this.driftAttempts.set(s.gearId, { count, bucket });
          continue;
        }
        this.driftAttempts.delete(s.gearId);
        drifted.splice(drifted.indexOf(s), 1);
        const o = observed.get(s.gearId);
        const gear = app.gears!.find((g) => g.id === s.gearId);
        const why = gear?.message ?? o?.message ?? (o ? `its container is ${o.state}` : 'its container is missing');
        const message = `not started again after ${DRIFT_ATTEMPTS} attempts: ${why}`.slice(0, 2000);
        this.logger.warn(`gear ${s.cartridge} ${s.gearId.slice(0, 8)} of app ${app.name} on ${node.name} ${message}`);
        changed.push({ gearId: s.gearId, appId: app.id, state: 'failed', ports: o?.ports ?? {}, containerId: o?.containerId, message });
      }
      if (drifted.length === 0 && !extra) inOrder.add(app.id);
      if (drifted.length > 0 || extra) {
        this.logger.log(`app ${app.name} drifted on ${node.name} (${drifted.length} gear(s) off, extra containers: ${extra}); converging`);
        await this.queue.send(
          node.id,
          'app.converge',
          convergeJob({ appId: app.id, nodeId: node.id, gears: app.gears!, specs }),
          `drift.${app.id}.${node.id}.${bucket}`,
        );
      }
    }
    if (changed.length > 0) {
      await repos.apps.recordGearReports(node.id, changed);
      this.routes.schedule();
    }
    // Containers of gears that are not placed here: moved elsewhere while the node was lost, gone, or of gone apps.
    const strays = hb.gears.filter((g) => subjects.has(g.appId) && !known.has(g.gearId));
    if (strays.length > 0) await this.removeStrays(node, strays, busy, bucket);
    // An app an operation held back is compared again on the next beat; a stray's app, once the stray is gone.
    if ([...subjects.keys()].some((appId) => busy.has(appId))) this.beats.delete(node.id);
    for (const [appId, now] of subjects) {
      if (busy.has(appId)) lastCompared.delete(appId);
      else lastCompared.set(appId, { ...now, at: nowMs, inOrder: inOrder.has(appId) && !strays.some((g) => g.appId === appId) });
    }
  }

  /**
   * The apps a heartbeat compares. An app read for another node's beat moments ago, and stored the same since (its
   * versions, `storedOf`, are the ones it was read under), is not read again: an app of ten replicas on ten nodes is
   * compared by each of them once its operation ends, and was read whole ten times within seconds.
   */
  private async readApps(ids: string[], storedOf: Map<string, string>): Promise<App[]> {
    const kept = new Map<string, App>();
    for (const id of ids) {
      const read = this.appsRead.get(id);
      if (read && read.key === storedOf.get(id)) kept.set(id, read.app);
    }
    // An app that changed after its versions were read is read as it is now, under the older key: the next beat reads it again.
    const missing = ids.filter((id) => !kept.has(id));
    for (const app of missing.length > 0 ? await this.appsRepository.findByIds(missing) : []) {
      this.appsRead.delete(app.id);
      this.appsRead.set(app.id, { key: storedOf.get(app.id) ?? '', app });
      kept.set(app.id, app);
    }
    while (this.appsRead.size > APPS_READ_KEPT) this.appsRead.delete(this.appsRead.keys().next().value!);
    return ids.flatMap((id) => kept.get(id) ?? []);
  }

  /** Fences a node's containers of gears placed elsewhere, and removes those of apps the platform no longer has. */
  private async removeStrays(node: { id: string; name: string }, strays: GearReport[], busy: Set<string>, bucket: number): Promise<void> {
    const existing = await this.appsRepository.existing([...new Set(strays.map((g) => g.appId))]);
    await this.fence(
      node.id,
      node.name,
      strays.filter((g) => existing.has(g.appId)),
      busy,
      bucket,
    );
    for (const appId of new Set(strays.filter((g) => !existing.has(g.appId)).map((g) => g.appId))) {
      if (busy.has(appId)) continue;
      this.logger.log(`node ${node.name} runs containers of unknown app ${appId}; removing them`);
      await this.queue.send(node.id, 'app.remove', { appId }, `orphan.${appId}.${node.id}.${bucket}`);
    }
  }

  /**
   * Tells a node which of the containers it reports are no longer its own: gears of existing apps that moved to
   * another node (under a newer epoch) while it was lost, or that are gone. It removes their containers (their app's
   * volumes stay: a database's may hold rows newer than what was restored elsewhere), and refuses any job for their
   * old assignment from then on.
   */
  private async fence(nodeId: string, nodeName: string, reports: GearReport[], busy: Set<string>, bucket: number): Promise<void> {
    if (reports.length === 0) return;
    const rows = new Map((await this.appsRepository.assignments(reports.map((r) => r.gearId))).map((g) => [g.id, g]));
    const gears = reports.flatMap((r) => {
      const row = rows.get(r.gearId);
      // A gear that is gone while an operation of its app runs is that operation's to remove (after its drain).
      if (!row) return busy.has(r.appId) ? [] : [{ gearId: r.gearId, appId: r.appId, epoch: GONE_EPOCH }];
      return row.nodeId !== nodeId && row.epoch > (r.epoch ?? 0) ? [{ gearId: r.gearId, appId: r.appId, epoch: row.epoch }] : [];
    });
    if (gears.length === 0) return;
    this.logger.warn(`node ${nodeName} runs ${gears.length} gear(s) that are not its own any more; fencing them`);
    await this.queue.send(nodeId, 'node.fence', { gears }, `fence.${nodeId}.${bucket}`);
  }
}

function gearChanged(gear: Gear, r: GearReport): boolean {
  return (
    gear.state !== r.state ||
    gear.containerId !== (r.containerId ?? null) ||
    gear.message !== (r.message ?? null) ||
    JSON.stringify(gear.ports) !== JSON.stringify(r.ports) ||
    JSON.stringify(gear.inside) !== JSON.stringify(r.inside ?? null)
  );
}
