import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { UnitOfWork } from '../database/unit-of-work';
import { AppsRepository } from '../apps/apps.repository';
import type { App } from '../apps/app.entity';
import { NodesRepository } from '../fleet/nodes.repository';
import { AppBusyError, ChangeRunner } from '../changes/change-runner';
import { OperationsRepository } from '../operations/operations.repository';
import { OperationsService, presentOperation } from '../operations/operations.service';
import type { Operation, OperationStep } from '../operations/operation.entity';
import { servicesReachableElsewhere } from '../nodes/placement';
import { NodesService } from '../nodes/nodes.service';
import type { User } from '../users/user.entity';
import { UsersRepository } from '../users/users.repository';
import { CatalogService } from '../cartridges/catalog.service';
import { AppGears } from './app-gears.service';

const OPS = { operations: OperationsRepository };

/** How long a drain waits for one app's move, and for an app busy with another operation to be free. */
const MOVE_WAIT_S = 600;
const BUSY_WAIT_MS = 120_000;

/** The drain is driven by another broker now (see OperationsService.adopt()): this one stops. */
class Superseded extends Error {
  constructor(opId: string) {
    super(`another broker drives operation ${opId} now`);
  }
}

/**
 * Drains a node: it takes no new gears, and every gear that can move leaves it with no failed request. Each app's
 * web and worker gears move in an `app.move` operation that rolls out like a restart: new gears start on other
 * nodes (placed, and explained, as any placement), become healthy, the routers take them and drop the old ones, and
 * only then do the old ones drain their open requests and stop. Services (databases) stay: their data is on the
 * node's volumes, and moving it is a snapshot restored elsewhere, which the drain names but does not do. The drain
 * is a `node.drain` operation whose steps tell each app's move; run again, it moves what is left. The broker that
 * began it drives it; when that broker dies, the leader drives it on from what is left (OperationsService.drive()).
 */
@Injectable()
export class NodeDrainService implements OnModuleInit {
  private readonly logger = new Logger('drain');

  constructor(
    private readonly uow: UnitOfWork,
    private readonly nodes: NodesService,
    private readonly nodesRepository: NodesRepository,
    private readonly appsRepository: AppsRepository,
    private readonly operations: OperationsService,
    private readonly changes: ChangeRunner,
    private readonly gears: AppGears,
    private readonly catalog: CatalogService,
    private readonly users: UsersRepository,
    private readonly operationsRepository: OperationsRepository,
  ) {}

  onModuleInit(): void {
    this.operations.registerDriver('node.drain', (op, resumed) => this.drive(op, resumed));
  }

  async drain(user: User, idOrName: string, waitSeconds?: number) {
    const node = await this.nodes.markDraining(user, idOrName);
    const op = await this.uow.run(OPS, ({ operations }) =>
      operations.create({
        kind: 'node.drain',
        appId: null,
        userId: user.id,
        pendingNodes: [],
        dispatch: [],
        context: { ...this.operations.driverContext(), nodeId: node.id },
        steps: [{ at: new Date().toISOString(), node: node.name, text: `node ${node.name} is draining: it takes no new gears, and its gears move` }],
      }),
    );
    await this.operations.drive(op);
    return presentOperation(waitSeconds ? await this.operations.wait(op, waitSeconds) : op);
  }

  /** The drain's work, begun here or (`resumed`) taken over from a broker that died during it. */
  private async drive(op: Operation, resumed: boolean): Promise<void> {
    const nodeId = String(op.context.nodeId);
    try {
      const node = await this.nodesRepository.findById(nodeId);
      if (!node) {
        await this.end(op.id, 'the node was removed before its drain ended');
        return;
      }
      const user = op.userId ? await this.users.findById(op.userId) : null;
      if (resumed) await this.settleEarlierMoves(op);
      await this.run(op.id, node.id, node.name, user);
    } catch (err) {
      if (err instanceof Superseded) {
        this.logger.warn(`draining node ${nodeId}: ${err.message}`);
        return;
      }
      this.logger.error(`draining node ${nodeId}: ${(err as Error).message}`);
      await this.end(op.id, `the drain stopped: ${(err as Error).message}`).catch(() => undefined);
    }
  }

  /**
   * The moves a drain taken over had begun and not yet told in its steps: they go on by themselves (the leader
   * dispatches them again), and the drain waits for each to end and tells how it did before it moves what is left.
   */
  private async settleEarlierMoves(op: Operation): Promise<void> {
    for (const move of await this.operationsRepository.withContext('app.move', 'drain', op.id)) {
      if (op.steps.some((s) => s.text.includes(move.id))) continue;
      const ended = await this.operations.wait(move, MOVE_WAIT_S);
      const name = (move.appId && (await this.appsRepository.findById(move.appId))?.name) ?? move.appId;
      await this.step(op.id, {
        text: `app ${name}: the move begun before (operation ${ended.id}) ended ${ended.state}${ended.error ? `: ${ended.error}` : ''}`,
      });
    }
  }

  private async run(opId: string, nodeId: string, nodeName: string, user: User | null): Promise<void> {
    const failures: string[] = [];
    let stay = 0;
    for (const appId of await this.appsRepository.appIdsOnNode(nodeId)) {
      const app = await this.appsRepository.findById(appId);
      if (!app || app.desiredState === 'deleting') continue;
      const { gears, staying, why } = this.gears.movableOff(app, nodeId, await this.servicesElsewhere(app));
      stay += staying.length;
      if (staying.length > 0) {
        const reason = why ?? 'a service keeps its data on the node; take a snapshot and restore it on another node to move it';
        await this.step(opId, { text: `app ${app.name}: ${staying.length} gear(s) stay (${[...new Set(staying)].join(', ')}): ${reason}` });
      }
      if (!gears || gears.length === 0) continue;
      const moved = await this.move(
        opId,
        app,
        nodeId,
        gears.map((g) => g.id),
        user,
      );
      const placements = moved.steps.filter((s) => s.considered);
      for (const s of placements) await this.step(opId, { text: `app ${app.name}: ${s.text}`, considered: s.considered, passedOver: s.passedOver });
      if (moved.state === 'succeeded') {
        await this.step(opId, { text: `app ${app.name}: ${gears.length} gear(s) moved off ${nodeName} (operation ${moved.id})` });
      } else {
        failures.push(app.name);
        await this.step(opId, { text: `app ${app.name}: the move did not finish (operation ${moved.id}, ${moved.state}): ${moved.error ?? 'still running'}` });
      }
    }
    const left = (await this.nodesRepository.usage()).find((u) => u.node.id === nodeId)?.gears ?? 0;
    const summary = `node ${nodeName} drained: ${left} gear(s) left on it${stay > 0 ? `, ${stay} of which cannot move` : ''}`;
    await this.end(opId, failures.length > 0 ? `the gears of ${failures.join(', ')} did not move; run the drain again to retry` : null, summary);
  }

  /** One app's move: begun once the app is free (another operation of it may be running), then waited for. */
  private async move(drainId: string, app: App, nodeId: string, gearIds: string[], user: User | null): Promise<Operation> {
    const deadline = Date.now() + BUSY_WAIT_MS;
    for (;;) {
      try {
        const op = await this.changes.begin(
          app,
          async (repos) => {
            const change = await this.gears.moveOff(repos, app, nodeId, gearIds);
            const { nodes, context } = change as { nodes: string[]; context: Operation['context'] };
            return this.operations.create(
              repos,
              'app.move',
              app.id,
              user,
              nodes.map((n) => ({ nodeId: n, job: 'app.converge' as const })),
              `moving ${gearIds.length} gear(s) off a draining node: new gears start elsewhere, the old ones stop once those serve`,
              { ...context, drain: drainId },
            );
          },
          { lock: 'placement' },
        );
        return await this.changes.sendAndWait(op, MOVE_WAIT_S);
      } catch (err) {
        if (!(err instanceof AppBusyError) || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /** Whether the app's web gears may run away from its services: they publish on an address other nodes reach. */
  private async servicesElsewhere(app: App): Promise<boolean> {
    const web = this.catalog.webOf((app.cartridges ?? []).map((c) => c.cartridge))?.manifest.name;
    const services = (app.gears ?? []).filter((g) => g.cartridge !== web);
    if (services.length === 0) return true;
    const home = services[0].nodeId;
    const address = (await this.nodesRepository.findById(home))?.address;
    return servicesReachableElsewhere(
      address,
      services.map((g) => ({ ports: g.ports, endpoints: this.catalog.find(g.cartridge)?.manifest.endpoints.length ?? 0 })),
    );
  }

  /** A step of the drain; throws Superseded once another broker drives it. */
  private async step(opId: string, step: Omit<OperationStep, 'at'>): Promise<void> {
    await this.uow.run(OPS, async ({ operations }) => {
      const op = await operations.lock(opId);
      if (!op) return;
      if (!this.operations.drives(op)) throw new Superseded(opId);
      op.state = op.state === 'queued' ? 'running' : op.state;
      op.steps = [...op.steps, { at: new Date().toISOString(), ...step }];
      await operations.save(op);
    });
  }

  private async end(opId: string, error: string | null, summary?: string): Promise<void> {
    await this.uow.run(OPS, async ({ operations }) => {
      const op = await operations.lock(opId);
      if (!op || op.state === 'succeeded' || op.state === 'failed') return;
      if (!this.operations.drives(op)) throw new Superseded(opId);
      op.state = error ? 'failed' : 'succeeded';
      op.error = error;
      op.finishedAt = new Date();
      const at = op.finishedAt.toISOString();
      op.steps = [...op.steps, ...(summary ? [{ at, text: summary }] : []), ...(error ? [{ at, text: error }] : [])];
      await operations.save(op);
    });
  }
}
