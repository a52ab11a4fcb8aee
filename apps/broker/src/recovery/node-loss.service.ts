import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { Leadership } from '../leadership/leadership.service';
import { QueueService } from '../queue/queue.service';
import { AppsRepository } from '../apps/apps.repository';
import type { App } from '../apps/app.entity';
import { CatalogService } from '../cartridges/catalog.service';
import { NodesRepository, type NodeUsage } from '../fleet/nodes.repository';
import type { NodeCandidate } from '../nodes/placement';
import { RoutesService } from '../routes/routes.service';
import { AppBusyError, ChangeRunner } from '../changes/change-runner';
import { OperationsService } from '../operations/operations.service';
import { SnapshotsService } from '../snapshots/snapshots.service';
import { nodesToLose, planMoves, type GearSeen, type NodeSeen } from './node-loss';

/** How often the leader looks for silent nodes: well inside the heartbeat timeout. */
const WATCH_MS = 250;
/** How often kept snapshots of deleted apps are removed. */
const PRUNE_MS = 60_000;

export const candidatesOf = (usage: NodeUsage[]): NodeCandidate[] =>
  usage.filter((u) => !u.node.lostAt).map((u) => ({ ...u.node, allocatedMb: u.allocatedMb, gears: u.gears }));

export const gearsSeen = (app: App): GearSeen[] =>
  (app.gears ?? []).map((g) => ({ id: g.id, cartridge: g.cartridge, nodeId: g.nodeId, memoryMb: g.memoryMb, process: g.process, ports: g.ports }));

/**
 * The heartbeat watchdog, on the leading broker: a node silent for the heartbeat timeout is marked lost, the
 * routers stop sending it requests at once (the broker's word, before their own health checks notice), the jobs it
 * has not started are taken back, and its stateless gears move to healthy nodes, one operation per app. An app whose
 * data was there is marked degraded with the reason until an operator recovers it (see RecoveryService) or the node
 * comes back.
 */
@Injectable()
export class NodeLossService implements OnApplicationBootstrap {
  private readonly logger = new Logger('node-loss');
  private ticking = false;
  private lastPrune = 0;

  constructor(
    private readonly nodesRepository: NodesRepository,
    private readonly appsRepository: AppsRepository,
    private readonly catalog: CatalogService,
    private readonly changes: ChangeRunner,
    private readonly operations: OperationsService,
    private readonly routes: RoutesService,
    private readonly queue: QueueService,
    private readonly snapshots: SnapshotsService,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    private readonly leadership: Leadership,
  ) {}

  onApplicationBootstrap(): void {
    this.leadership.whileLeader('heartbeat watchdog', () => {
      const timer = setInterval(() => {
        this.tick().catch((err: Error) => this.logger.warn(`heartbeat watchdog: ${err.message}`));
      }, WATCH_MS);
      return () => clearInterval(timer);
    });
  }

  /** Whether a cartridge's gears hold no data: app code (web gears and workers) moves, databases stay. */
  stateless = (cartridge: string): boolean => this.catalog.find(cartridge)?.manifest.categories.includes('web') ?? false;

  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const now = new Date();
      // Four times a second: the nodes alone, without summing every gear; what gears take is read only to move some.
      const nodes = await this.nodesRepository.all();
      const newlyLost: NodeSeen[] = [];
      for (const n of nodesToLose(nodes, now, this.config.heartbeatTimeoutMs)) {
        // Its beat waits behind others: the node is alive, the broker is behind.
        if (await this.queue.beatWaiting(n.id)) continue;
        if (!(await this.nodesRepository.markLost(n.id, new Date(now.getTime() - this.config.heartbeatTimeoutMs)))) continue;
        const silent = n.lastHeartbeat ? ((now.getTime() - n.lastHeartbeat.getTime()) / 1000).toFixed(1) : '?';
        this.logger.warn(`node ${n.name} is lost (silent for ${silent} s): its routes go, its stateless gears move`);
        n.lostAt = now;
        newlyLost.push(n);
        // The routers hear of it while the gears move: neither waits for the other.
        this.routes.publishNow().catch((err: Error) => this.logger.warn(`publishing routes without ${n.name}: ${err.message}`));
      }
      const lost = new Map(nodes.filter((n) => n.lostAt).map((n) => [n.id, n.name]));
      const appIds = new Set((await Promise.all([...lost.keys()].map((id) => this.appsRepository.appIdsOnNode(id)))).flat());
      const apps = await this.appsRepository.findByIds([...appIds]);
      const usage = apps.length > 0 ? await this.nodesRepository.usage() : [];
      // Gears move first; what the lost node left behind is tidied after (an app it held busy moves on the next pass).
      await Promise.all(
        apps.map((app) => this.reschedule(app, lost, usage, now).catch((err: Error) => this.logger.warn(`moving ${app.name}'s gears: ${err.message}`))),
      );
      for (const n of newlyLost) {
        const discarded = await this.queue.discardWaiting(n.id);
        if (discarded > 0) this.logger.log(`took back ${discarded} job(s) node ${n.name} had not started`);
        const failed = await this.operations.failWaitingOn(n.id, n.name);
        if (failed > 0) this.logger.warn(`${failed} operation(s) waited for node ${n.name}: failed`);
      }
      await this.clearRecovered(appIds);
      if (now.getTime() - this.lastPrune > PRUNE_MS) {
        this.lastPrune = now.getTime();
        this.snapshots.pruneKept(new Set(await this.appsRepository.ids()));
      }
    } finally {
      this.ticking = false;
    }
  }

  /** Moves an app's stateless gears off lost nodes (one operation), and marks it degraded when its data was there. */
  private async reschedule(app: App, lost: Map<string, string>, usage: NodeUsage[], now: Date): Promise<void> {
    if (app.desiredState === 'deleting') return;
    const plan = (current: App, nodes: NodeUsage[]) =>
      planMoves({
        gears: gearsSeen(current),
        lost,
        candidates: candidatesOf(nodes),
        stateless: this.stateless,
        endpoints: (c) => this.catalog.find(c)?.manifest.endpoints.length ?? 0,
        addresses: new Map(nodes.map((u) => [u.node.id, u.node.address])),
        recoverHint: `gearshift apps recover ${app.name} (POST .../apps/${app.name}/recover)`,
        now,
        heartbeatTimeoutMs: this.config.heartbeatTimeoutMs,
      });
    const first = plan(app, usage);
    if (first.degraded && first.degraded !== app.degraded) {
      this.logger.warn(`${app.name} is degraded: ${first.degraded}`);
      await this.appsRepository.update(app.id, { degraded: first.degraded });
    }
    for (const s of first.stuck) this.logger.warn(`${app.name}: gear ${s.gearId.slice(0, 8)} cannot move yet: ${s.reason}`);
    if (first.moves.length === 0) return;
    const name = (id: string) => usage.find((u) => u.node.id === id)?.node.name ?? id;
    let op;
    try {
      op = await this.changes.begin(
        app,
        async (repos) => {
          // Again under the placement lock: another broker's change may have placed gears since the first look.
          const moves = plan((await repos.apps.findById(app.id)) ?? app, await repos.nodes.usage()).moves;
          for (const m of moves) await repos.apps.reassignGear(m.gearId, m.to);
          const step = `node ${[...new Set(moves.map((m) => name(m.from)))].join(', ')} lost: moving ${moves
            .map((m) => `${m.cartridge} ${m.gearId.slice(0, 8)} to ${name(m.to)}`)
            .join(', ')}`;
          return this.operations.create(
            repos,
            'app.reschedule',
            app.id,
            null,
            [...new Set(moves.map((m) => m.to))].map((nodeId) => ({ nodeId, job: 'app.converge' as const })),
            step,
          );
        },
        { lock: 'placement' },
      );
    } catch (err) {
      // Another operation of the app runs: a later pass moves its gears once it ends (or is swept).
      if (err instanceof AppBusyError) return;
      throw err;
    }
    this.logger.log(`${app.name}: ${op.steps[0]?.text}`);
    await this.changes.send(op);
  }

  /** Apps that were degraded and have no gear on a lost node any more (the node came back) are whole again. */
  private async clearRecovered(onLost: Set<string>): Promise<void> {
    for (const app of await this.appsRepository.degradedApps()) {
      if (!onLost.has(app.id)) await this.appsRepository.update(app.id, { degraded: null });
    }
  }
}
