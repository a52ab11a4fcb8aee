import { Inject, Injectable, Logger } from '@nestjs/common';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { conflict, GearshiftError } from '../common/errors';
import { AppAccess } from '../apps/app-access.service';
import { AppsRepository } from '../apps/apps.repository';
import { NodesRepository } from '../fleet/nodes.repository';
import { ChangeRunner } from '../changes/change-runner';
import { OperationsService, presentOperation } from '../operations/operations.service';
import type { Operation } from '../operations/operation.entity';
import { OperationsRepository } from '../operations/operations.repository';
import { SnapshotsService } from '../snapshots/snapshots.service';
import type { User } from '../users/user.entity';
import { placeRecovery } from './node-loss';
import { candidatesOf, gearsSeen, NodeLossService } from './node-loss.service';

/**
 * The operator's one command for an app whose data was on a lost node: its data gears move to a healthy node (a new
 * assignment, so the lost node removes its copies if it comes back), and the latest snapshot the broker keeps of the
 * app is restored into them.
 */
@Injectable()
export class RecoveryService {
  private readonly logger = new Logger('recovery');

  constructor(
    private readonly access: AppAccess,
    private readonly appsRepository: AppsRepository,
    private readonly nodesRepository: NodesRepository,
    private readonly changes: ChangeRunner,
    private readonly operations: OperationsService,
    private readonly operationsRepository: OperationsRepository,
    private readonly snapshots: SnapshotsService,
    private readonly loss: NodeLossService,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

  async recover(user: User, domainName: string, appName: string, waitSeconds = 600) {
    const { app } = await this.access.requireApp(user, domainName, appName, 'develop');
    // The platform may be moving the app's web gears off the same lost node: that ends first, then the data moves.
    const moving = await this.operationsRepository.activeForApp(app.id);
    if (moving?.kind === 'app.reschedule') await this.operations.wait(moving, Math.min(waitSeconds, 120));
    const usage = await this.nodesRepository.usage();
    const lost = new Map(usage.filter((u) => u.node.lostAt).map((u) => [u.node.id, u.node.name]));
    const name = (id: string) => usage.find((u) => u.node.id === id)?.node.name ?? id;
    let moved: { gear: string; cartridge: string; from: string; to: string }[] = [];
    const op = await this.changes.begin(
      app,
      async (repos) => {
        const current = (await repos.apps.findById(app.id)) ?? app;
        const gears = gearsSeen(current);
        const placed = placeRecovery(gears, lost, candidatesOf(await repos.nodes.usage()), this.loss.stateless, new Date(), this.config.heartbeatTimeoutMs);
        if (!placed.ok) {
          if (placed.reason.startsWith('none')) throw conflict(`app "${appName}" has nothing to recover: ${placed.reason}`);
          throw new GearshiftError('no_capacity', `no node can take the data gears of "${appName}": ${placed.reason}`);
        }
        moved = placed.gears.map((g) => ({ gear: g.id, cartridge: g.cartridge, from: name(g.nodeId), to: name(placed.nodeId) }));
        for (const g of placed.gears) await repos.apps.reassignGear(g.id, placed.nodeId);
        await repos.apps.update(app.id, { degraded: `its data is being restored onto ${name(placed.nodeId)}` });
        // Every healthy node with gears of the app converges: its web gears reach the services at their new address.
        const nodes = new Set([placed.nodeId, ...current.gears!.map((g) => g.nodeId).filter((id) => !lost.has(id))]);
        return this.operations.create(
          repos,
          'app.recover',
          app.id,
          user,
          [...nodes].map((nodeId) => ({ nodeId, job: 'app.converge' as const })),
          `moving ${moved.map((m) => `${m.cartridge} ${m.gear.slice(0, 8)}`).join(', ')} from lost node ${moved[0].from} to ${moved[0].to}`,
        );
      },
      { lock: 'placement', busyHint: 'recover it when that operation ends' },
    );
    this.logger.warn(`${appName}: ${op.steps[0]?.text}`);
    const started = Date.now();
    const converged = await this.changes.sendAndWait(op, waitSeconds);
    const answer = (snapshot: { takenAt: string } | null, last: Operation) => ({
      app: appName,
      domain: domainName,
      moved,
      snapshot,
      operation: presentOperation(last),
    });
    if (converged.state !== 'succeeded') return answer(null, converged);
    const kept = this.snapshots.latestKept(app.id);
    if (!kept) {
      await this.appsRepository.update(app.id, { degraded: null });
      return answer(null, converged);
    }
    const left = Math.max(1, waitSeconds - Math.round((Date.now() - started) / 1000));
    const restored = await this.snapshots.restore(user, domainName, appName, kept.archive, left);
    if (restored.operation.state === 'succeeded') await this.appsRepository.update(app.id, { degraded: null });
    return { ...answer({ takenAt: kept.takenAt.toISOString() }, converged), operation: restored.operation };
  }
}
