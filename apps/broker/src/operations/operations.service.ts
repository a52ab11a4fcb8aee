import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import IORedis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { currentRequestId, withRequestId, type BrokerJobs, type GearSpec, type NodeJob, type NodeJobs } from '@gearshift/cartridges';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { Leadership } from '../leadership/leadership.service';
import { conflict, ERROR_STATUS, GearshiftError, notFound } from '../common/errors';
import { UnitOfWork, type Repositories, type Tx } from '../database/unit-of-work';
import { AppsRepository } from '../apps/apps.repository';
import { DomainsService } from '../domains/domains.service';
import { OperationsRepository } from './operations.repository';
import { GearSpecsService } from '../apps/gear-specs.service';
import { QueueService } from '../queue/queue.service';
import { Metrics } from '../metrics/metrics';
import { RoutesService } from '../routes/routes.service';
import type { Action } from '../teams/policy';
import type { User } from '../users/user.entity';
import type { App } from '../apps/app.entity';
import type { Operation } from './operation.entity';
import { convergeJob, GONE_EPOCH } from './converge-job';
import { takePlacements } from '../common/placement-log';
import { reduceReport, reduceStageEnd, type OperationLine, type StageNext, type StageOutcome } from './report';

export type { OperationLine, StageOutcome } from './report';

const REPOS = { apps: AppsRepository, operations: OperationsRepository };
type Repos = Repositories<typeof REPOS>;

/**
 * The next stage of a staged operation (a deployment): new jobs and a step, or null when the operation ends. Runs
 * inside the transaction that applies the last report, so the stage and its jobs commit together.
 */
export interface StageHandler {
  next(tx: Tx, op: Operation, outcome: StageOutcome): Promise<{ dispatch: Operation['dispatch']; step: string; error?: string | null } | null>;
  /** A job of this operation other than converge and remove (a build, a snapshot), for one node. */
  job?(op: Operation, app: App, nodeId: string, name: Operation['dispatch'][number]['job']): Promise<NodeJob>;
  /** The gear specs this operation's converge jobs carry, when they differ from the app's (a rollout's new gears). */
  convergeSpecs?(op: Operation, app: App): Promise<GearSpec[]>;
  /** Extra fields of an `app.converge` job of this operation (release images to keep, a post-deploy hook). */
  convergeExtras?(op: Operation, app: App, nodeId: string): Promise<Partial<NodeJobs['app.converge']>>;
  /** Build and hook output lines of this operation. */
  log?(op: Operation, lines: string[], tx: Tx): Promise<void>;
  /** After the operation ended and committed. */
  ended?(op: Operation): Promise<void>;
}

/**
 * Drives an operation of one kind to its end (a node's drain), from where its steps say it is: `resumed` when
 * another broker began it and died. It ends the operation itself, and stops early once drives() says no.
 */
export type Driver = (op: Operation, resumed: boolean) => Promise<void>;

export const presentOperation = (op: Operation) => ({
  id: op.id,
  kind: op.kind,
  state: op.state,
  steps: op.steps,
  error: op.error,
  createdAt: op.createdAt,
  finishedAt: op.finishedAt,
});

const terminal = (op: Operation) => op.state === 'succeeded' || op.state === 'failed';

/** The name of a driven operation's claim (see drive()). */
const driveClaim = (id: string) => `operation:${id}`;

/**
 * Operations: created in the same transaction as the change they carry out, dispatched to the nodes after commit,
 * finished by the nodes' reports. Unfinished ones are dispatched again (jobs are idempotent) by the broker that
 * becomes leader, and time out by its sweeper: with several brokers, the operations a broker that died had committed
 * but not yet sent are sent by the one that takes over.
 */
@Injectable()
export class OperationsService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('operations');
  private readonly finished = new EventEmitter();
  private readonly lines = new EventEmitter();
  private readonly stages = new Map<string, StageHandler>();
  private readonly reportChains = new Map<string, Promise<void>>();
  private readonly drivers = new Map<string, Driver>();
  /** The driven operations this process runs now. */
  private readonly driving = new Set<string>();
  private adopting = false;
  /** This broker process, as a driven operation names its driver: a broker restarted on the same port is another. */
  readonly driverId: string;
  /**
   * Progress lines go to the other brokers through Redis: a report may be applied by any broker, while the client
   * following the operation (a `git push`, a `?wait=`) is answered by one of them. Made at start (see relay()).
   */
  private relayed?: { publisher: IORedis; subscriber: IORedis; channel: string; self: string };

  constructor(
    private readonly uow: UnitOfWork,
    private readonly appsRepository: AppsRepository,
    private readonly operationsRepository: OperationsRepository,
    private readonly queue: QueueService,
    private readonly specs: GearSpecsService,
    private readonly routes: RoutesService,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    private readonly domains: DomainsService,
    private readonly metrics: Metrics,
    private readonly leadership: Leadership,
  ) {
    this.finished.setMaxListeners(0);
    this.lines.setMaxListeners(0);
    this.driverId = `${leadership.id}/${randomUUID().slice(0, 8)}`;
  }

  /** Operations of `kind` run in stages that `handler` drives. */
  registerStages(kind: string, handler: StageHandler): void {
    this.stages.set(kind, handler);
  }

  /** Operations of `kind` are driven by `driver` in a broker's own loop; see drive(). */
  registerDriver(kind: string, driver: Driver): void {
    this.drivers.set(kind, driver);
  }

  /** Whether this broker process still drives the operation (made with driverContext()), as its row says now. */
  drives(op: Pick<Operation, 'context'>): boolean {
    return op.context?.driver === this.driverId;
  }

  /** The context of a new operation that this broker process drives. */
  driverContext(): Operation['context'] {
    return { driven: true, driver: this.driverId };
  }

  /**
   * Runs a driven operation (made with driverContext()) in this process. For as long as it runs, this broker holds
   * the operation's claim (Leadership.claim), which Postgres lets go of when the broker dies: the leader then takes
   * it over (adopt()) and drives it on. Returns once the claim is held; the work goes on in the background.
   */
  async drive(op: Operation): Promise<void> {
    await this.leadership.claim(driveClaim(op.id)).catch((err: Error) => this.logger.warn(`claiming ${op.id}: ${err.message}`));
    this.runDriver(op, false);
  }

  private runDriver(op: Operation, resumed: boolean): void {
    const driver = this.drivers.get(op.kind);
    if (!driver) throw new Error(`no driver for operations of kind ${op.kind}`);
    this.driving.add(op.id);
    driver(op, resumed)
      .catch((err: Error) => this.logger.error(`driving ${op.id} (${op.kind}): ${err.message}`))
      .finally(() => {
        this.driving.delete(op.id);
        this.leadership.release(driveClaim(op.id)).catch(() => undefined);
      });
  }

  /**
   * Takes over the driven operations whose broker is gone (its claim is free): the leader's work, at its start and
   * with each sweep. The operation names its new driver, so that a broker that only lost its connection for a while
   * stops driving it at its next step.
   */
  private async adopt(): Promise<void> {
    // The claims of this process are its own to take again: two passes at once would both take the same operation.
    if (this.adopting) return;
    this.adopting = true;
    try {
      await this.adoptOrphans();
    } catch (err) {
      this.logger.warn(`taking over driven operations: ${(err as Error).message}`);
    } finally {
      this.adopting = false;
    }
  }

  private async adoptOrphans(): Promise<void> {
    for (const op of await this.operationsRepository.unfinished()) {
      if (!op.context?.driven || this.driving.has(op.id) || !this.drivers.has(op.kind)) continue;
      if (!(await this.leadership.claim(driveClaim(op.id)))) continue;
      let taken: Operation | null = null;
      const text = `broker ${this.leadership.id} drives the operation on: the broker that drove it stopped`;
      await this.uow.run(REPOS, async (repos) => {
        const locked = await repos.operations.lock(op.id);
        if (!locked || terminal(locked)) return;
        locked.context = { ...locked.context, driver: this.driverId };
        locked.steps = [...locked.steps, { at: new Date().toISOString(), text }];
        await repos.operations.save(locked);
        taken = locked;
      });
      if (!taken) {
        await this.leadership.release(driveClaim(op.id));
        continue;
      }
      this.logger.warn(`operation ${op.id} (${op.kind}): ${text}`);
      this.emit(op.id, { kind: 'step', text });
      this.runDriver(taken, true);
    }
  }

  /** Progress of one operation as it happens: steps, output lines, and its end. Returns the unsubscribe function. */
  follow(id: string, listener: (line: OperationLine) => void): () => void {
    this.lines.on(id, listener);
    return () => this.lines.off(id, listener);
  }

  onApplicationBootstrap(): void {
    this.relay();
    this.leadership.whileLeader('operations', () => {
      this.resume().catch((err: Error) => this.logger.warn(`resuming unfinished operations: ${err.message}`));
      const sweeper = setInterval(() => void this.sweep().catch((err) => this.logger.warn(`sweep: ${err.message}`)), 5000);
      return () => clearInterval(sweeper);
    });
  }

  onModuleDestroy(): void {
    this.relayed?.publisher.disconnect();
    this.relayed?.subscriber.disconnect();
  }

  /** Hears the progress lines other brokers emit, and tells this broker's followers and waits. */
  private relay(): void {
    const channel = `${this.config.instance}:operation-lines`;
    const publisher = new IORedis(this.config.redisUrl, { maxRetriesPerRequest: 2 });
    const subscriber = new IORedis(this.config.redisUrl);
    publisher.on('error', (err) => this.logger.warn(`redis: ${err.message}`));
    subscriber.on('error', (err) => this.logger.warn(`redis: ${err.message}`));
    this.relayed = { publisher, subscriber, channel, self: randomUUID() };
    subscriber.on('message', (_channel: string, raw: string) => {
      let message: { from: string; id: string; line: OperationLine };
      try {
        message = JSON.parse(raw) as typeof message;
      } catch {
        return;
      }
      if (message.from !== this.relayed?.self) this.emitHere(message.id, message.line);
    });
    // ioredis subscribes again after a reconnect.
    subscriber.subscribe(channel).catch((err: Error) => this.logger.warn(`hearing other brokers' operation lines: ${err.message}`));
  }

  /** A progress line of an operation, for the followers on every broker; an end line also ends their waits. */
  private emit(id: string, line: OperationLine): void {
    this.emitHere(id, line);
    const r = this.relayed;
    if (!r) return;
    r.publisher
      .publish(r.channel, JSON.stringify({ from: r.self, id, line }))
      .catch((err: Error) => this.logger.warn(`relaying a line of ${id}: ${err.message}`));
  }

  private emitHere(id: string, line: OperationLine): void {
    this.lines.emit(id, line);
    if (line.kind === 'end') this.finished.emit(id);
  }

  /** Sends every unfinished operation's jobs again, or ends it once routers serve it: whatever a broker left undone. */
  private async resume(): Promise<void> {
    await this.adopt();
    for (const op of await this.operationsRepository.unfinished()) {
      // A broker drives it step by step (a node's drain), with no job to send again: adopt() took it over.
      if (op.context?.driven) continue;
      if (op.context?.serving) {
        this.serveLogged(op.id);
        continue;
      }
      await this.dispatch(op).catch((err) => this.logger.warn(`dispatching ${op.id} again failed: ${err.message}`));
    }
  }

  /** Records an operation inside the caller's transaction; send it with dispatch() after the commit. */
  create(
    repos: Pick<Repos, 'operations'>,
    kind: string,
    appId: string,
    user: User | null,
    dispatch: Operation['dispatch'],
    firstStep: string,
    context: Operation['context'] = {},
  ): Promise<Operation> {
    // Placements happen before the operation is made, in the same transaction. The first step (why the operation
    // exists) takes the time of the first of them, so that steps kept in time order keep it first.
    const placements = takePlacements();
    const at = placements[0]?.at ?? new Date().toISOString();
    return repos.operations.create({
      kind,
      appId,
      userId: user?.id ?? null,
      pendingNodes: [...new Set(dispatch.map((d) => d.nodeId))],
      dispatch,
      // The API request that asked for it: its jobs carry the id, so the logs of every node show it (dispatch()).
      context: { ...context, ...(currentRequestId() && !context.requestId ? { requestId: currentRequestId() } : {}) },
      // Which nodes its gears were placed on, and why (placed earlier in the same transaction).
      steps: [{ at, text: firstStep }, ...placements],
    });
  }

  /**
   * Sends an operation's jobs, computed from the desired state as it is now. Sending twice is harmless. `app`: the
   * operation's app as the caller read it after the operation committed (read here when not given).
   */
  dispatch(op: Operation, app?: App | null): Promise<void> {
    return withRequestId(op.context?.requestId, () => this.send(op, app));
  }

  private async send(op: Operation, given?: App | null): Promise<void> {
    this.logger.log(`operation ${op.id} (${op.kind}) dispatched${op.context?.stage ? ` at stage ${op.context.stage}` : ''}`);
    if (op.dispatch.length === 0) {
      await this.finish(op.id);
      return;
    }
    const app = given !== undefined ? given : op.appId ? await this.appsRepository.findById(op.appId) : null;
    const stages = this.stages.get(op.kind);
    const specs = app ? await (stages?.convergeSpecs ? stages.convergeSpecs(op, app) : this.specs.specs(app)) : [];
    // The nodes' jobs are independent of one another: they are queued together, not one Redis round trip after the
    // other (an app of ten replicas has ten), while the request that made the operation waits.
    await Promise.all(
      op.dispatch.map(async (d) => {
        // Each stage sends new jobs: the stage is part of the job's id.
        const jobId = op.context?.stage ? `${op.id}.${op.context.stage}.${d.nodeId}` : `${op.id}.${d.nodeId}`;
        if (d.job === 'app.remove' || !app) {
          await this.queue.send(d.nodeId, 'app.remove', { operationId: op.id, appId: op.appId ?? '' }, jobId);
        } else if (d.job !== 'app.converge') {
          if (!stages?.job) throw new Error(`operation ${op.kind} has no ${d.job} job`);
          const job = await stages.job(op, app, d.nodeId, d.job);
          await this.queue.send(d.nodeId, job.name, job.data as never, jobId);
        } else {
          const extras = stages?.convergeExtras ? await stages.convergeExtras(op, app, d.nodeId) : {};
          // Removed web gears have already left the routers; the agent lets their open requests finish first.
          const job = convergeJob({ appId: app.id, nodeId: d.nodeId, gears: app.gears ?? [], specs, operationId: op.id, drainMs: this.config.drainMs, extras });
          await this.queue.send(d.nodeId, 'app.converge', job, jobId);
        }
      }),
    );
  }

  /** An operation with no node work ends at once. */
  private async finish(id: string): Promise<void> {
    let ended: Operation | null = null;
    await this.uow.run(REPOS, async (repos) => {
      const op = await repos.operations.lock(id);
      if (!op || terminal(op)) return;
      op.state = 'succeeded';
      op.finishedAt = new Date();
      if (op.kind === 'app.delete' && op.appId) {
        // An app with no gear on any node (created empty, never pushed) has nothing to remove there: it goes now.
        await repos.apps.delete(op.appId);
        op.appId = null;
      }
      await repos.operations.save(op);
      ended = op;
    });
    if (ended) this.metrics.operationEnded(ended);
    this.emit(id, { kind: 'end', state: 'succeeded', error: null });
    // Assigned in the transaction's callback, which the compiler does not follow.
    const op = ended as Operation | null;
    if (op)
      await this.stages
        .get(op.kind)
        ?.ended?.(op)
        .catch((err: Error) => this.logger.warn(`after ${op.id}: ${err.message}`));
  }

  /**
   * The operation if the user may take `action` on it: an app's operation by the user's role in the app's team (see
   * teams/policy.ts), another (a deleted app's, a node's) only by whoever asked for it and administrators.
   */
  private async require(user: User, id: string, action: Action): Promise<Operation> {
    const hidden = () => notFound(`operation "${id}"`);
    if (!/^[0-9a-f-]{36}$/.test(id)) throw hidden();
    const op = await this.operationsRepository.findById(id);
    if (!op) throw hidden();
    const app = op.appId ? await this.appsRepository.findById(op.appId) : null;
    if (app) await this.domains.requireById(user, app.domainId, action, hidden);
    else if (op.userId !== user.id && !user.isAdmin) throw hidden();
    return op;
  }

  async get(user: User, id: string, waitSeconds?: number) {
    let op = await this.require(user, id, 'read');
    if (waitSeconds) op = await this.wait(op, waitSeconds);
    return presentOperation(op);
  }

  /** Blocks until the operation ends or the time is up, then returns it as it is. */
  async wait(op: Operation, seconds: number): Promise<Operation> {
    const deadline = Date.now() + Math.min(seconds, 600) * 1000;
    let current = op;
    while (!terminal(current) && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.finished.off(op.id, done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(500, Math.max(0, deadline - Date.now())));
        this.finished.on(op.id, done);
      });
      current = (await this.operationsRepository.findById(op.id)) ?? current;
    }
    return current;
  }

  /**
   * Applies a node's report, after the reports of the same operation that came before it. The queue hands reports
   * out in the order the node sent them, but several are worked on at once: without this, a node's last output
   * lines could be applied after its final report had ended the operation, and followers would miss them.
   */
  handleReport(r: BrokerJobs['operation.report']): Promise<void> {
    const before = this.reportChains.get(r.operationId) ?? Promise.resolve();
    const run = before.then(() => this.applyReport(r));
    const settled = run.catch(() => undefined);
    this.reportChains.set(r.operationId, settled);
    // settled never rejects; only the map is tidied here.
    settled
      .then(() => {
        if (this.reportChains.get(r.operationId) === settled) this.reportChains.delete(r.operationId);
      })
      .catch(() => undefined);
    return run;
  }

  /** Applies a node's report: gear states, a step, and the node's outcome (decided by reduceReport / reduceStageEnd). */
  private async applyReport(r: BrokerJobs['operation.report']): Promise<void> {
    let ended: Operation | null = null;
    let continued: Operation | null = null;
    let serving: Operation | null = null;
    const emitted: OperationLine[] = [];
    await this.uow.run(REPOS, async (repos, tx) => {
      // Both go to Postgres together, on this transaction's connection, which reports hold for every turn of a busy
      // event loop between two statements; read without its steps: the report only adds to them.
      const [, op] = await Promise.all([repos.apps.recordGearReports(r.nodeId, r.gears), repos.operations.lock(r.operationId, { steps: false })]);
      if (!op) return;
      const stages = this.stages.get(op.kind);
      const decision = reduceReport(op, r);
      if (decision.log.length > 0) await stages?.log?.(op, decision.log, tx);
      Object.assign(op, decision.operation);
      emitted.push(...decision.lines);
      if (decision.markFailed) {
        const f = decision.markFailed;
        await repos.apps.markFailed(f.appId, f.nodeId, f.except, f.message);
      }
      if (decision.stageEnded) {
        const next = stages ? await this.nextStage(stages, tx, op, decision.stageEnded) : null;
        const stage = reduceStageEnd(op, next, new Date());
        Object.assign(op, stage.operation);
        emitted.push(...stage.lines);
        if (stage.then === 'continue') continued = op;
        else if (stage.then === 'serve') serving = op;
        else ended = op;
        if (stage.deleteApp) await repos.apps.delete(stage.deleteApp);
      }
      if (decision.save) await repos.operations.save(op);
    });
    for (const line of emitted) this.emit(r.operationId, line);
    if (r.gears.length > 0 || ended || continued) this.routes.schedule();
    if (serving) this.serveLogged(r.operationId);
    if (continued) {
      // Gears the next stage removes leave every router before their node drains and stops them.
      await this.routes
        .publishNow()
        .then((version) => this.routes.servedBy(version, this.config.routesAckTimeoutMs))
        .catch(() => undefined);
      await this.dispatch(continued).catch((err) => this.logger.warn(`dispatching the next stage of ${r.operationId} deferred: ${err.message}`));
    }
    if (ended) {
      const op: Operation = ended;
      this.metrics.operationEnded(op);
      this.emit(r.operationId, { kind: 'end', state: op.state, error: op.error });
      await this.stages
        .get(op.kind)
        ?.ended?.(op)
        .catch((err: Error) => this.logger.warn(`after ${op.id}: ${err.message}`));
    }
  }

  /**
   * The next stage of an operation. A stage that can never go on (a release the nodes cannot take: a 4xx from the
   * domain, not a passing state) ends the operation as failed with its reason, and what the stage wrote before it
   * failed is undone: retrying the report would only fail the same way until the deadline. Anything else throws, and
   * the report is retried.
   */
  private async nextStage(stages: StageHandler, tx: Tx, op: Operation, outcome: StageOutcome): Promise<StageNext | null> {
    const context = op.context;
    try {
      return await tx.undoing(() => stages.next(tx, op, outcome));
    } catch (err) {
      if (!(err instanceof GearshiftError) || ERROR_STATUS[err.code] >= 500) throw err;
      op.context = context;
      return { dispatch: [], step: `failed: ${err.message}`, error: err.message };
    }
  }

  /**
   * Ends an unfinished operation as failed with `reason`, whatever its nodes are doing: the app is free to change
   * again at once. Jobs still waiting in a node's queue are withdrawn; one a node is already working on finishes
   * there, and its report no longer changes the outcome (reports to an ended operation only add progress lines).
   * Returns the ended operation, or null when it had already ended.
   */
  private async fail(id: string, reason: string): Promise<Operation | null> {
    let failed: Operation | null = null;
    await this.uow.run(REPOS, async (repos) => {
      const locked = await repos.operations.lock(id);
      if (!locked || terminal(locked)) return;
      locked.state = 'failed';
      locked.error = reason;
      locked.finishedAt = new Date();
      locked.steps = [...locked.steps, { at: locked.finishedAt.toISOString(), text: reason }];
      await repos.operations.save(locked);
      failed = locked;
    });
    if (!failed) return null;
    const op: Operation = failed;
    this.metrics.operationEnded(op);
    for (const d of op.dispatch) {
      const jobId = op.context?.stage ? `${op.id}.${op.context.stage}.${d.nodeId}` : `${op.id}.${d.nodeId}`;
      await this.queue.withdraw(d.nodeId, jobId).catch((err: Error) => this.logger.warn(`withdrawing ${jobId}: ${err.message}`));
    }
    this.emit(id, { kind: 'step', text: reason });
    this.emit(id, { kind: 'end', state: 'failed', error: op.error });
    this.routes.schedule();
    const placed = await this.placedGears(op);
    await this.stages
      .get(op.kind)
      ?.ended?.(op)
      .catch((err: Error) => this.logger.warn(`after ${op.id}: ${err.message}`));
    await this.fenceDropped(op, placed).catch((err: Error) => this.logger.warn(`fencing the gears ${op.id} left: ${err.message}`));
    return op;
  }

  /** The app's gears on the nodes an operation sent jobs to. */
  private async placedGears(op: Operation): Promise<{ id: string; nodeId: string }[]> {
    if (!op.appId || op.dispatch.length === 0) return [];
    const nodes = new Set(op.dispatch.map((d) => d.nodeId));
    const app = await this.appsRepository.findById(op.appId);
    return (app?.gears ?? []).filter((g) => nodes.has(g.nodeId)).map((g) => ({ id: g.id, nodeId: g.nodeId }));
  }

  /**
   * Tells each node at once of the gears an ended operation's own ending removed (the fresh gears of a cancelled
   * rollout): a job of the operation that the node is already working on starts none of them from then on, and what
   * it made of them goes, rather than running until a heartbeat notices them.
   */
  private async fenceDropped(op: Operation, placed: { id: string; nodeId: string }[]): Promise<void> {
    if (placed.length === 0) return;
    const left = new Set(((await this.appsRepository.findById(op.appId!))?.gears ?? []).map((g) => g.id));
    const dropped = placed.filter((g) => !left.has(g.id));
    for (const nodeId of new Set(dropped.map((g) => g.nodeId))) {
      const gears = dropped.filter((g) => g.nodeId === nodeId).map((g) => ({ gearId: g.id, appId: op.appId!, epoch: GONE_EPOCH }));
      await this.queue.send(nodeId, 'node.fence', { gears }, `fence.${op.id}.${nodeId}`);
    }
  }

  /** A user stops an operation: it ends failed, saying who cancelled it. */
  async cancel(user: User, id: string) {
    const op = await this.require(user, id, 'develop');
    const ended = terminal(op) ? null : await this.fail(id, `cancelled by ${user.username}`);
    if (!ended) {
      const now = (await this.operationsRepository.findById(id)) ?? op;
      throw conflict(`operation ${id} has already ended (${now.state}); only a queued or running operation can be cancelled`);
    }
    this.logger.log(`operation ${id} (${op.kind}) cancelled by ${user.username}`);
    return presentOperation(ended);
  }

  /**
   * Ends an operation whose nodes all succeeded once every router serves the routes it left behind, so that `?wait`
   * means serving: the first request after it reaches the new gears. A router that does not confirm within the
   * bound (dead, or refusing the configuration) does not hold the operation: it ends with a warning step.
   */
  /** serve() runs beside the request or report that started it; what fails in it is logged, never lost. */
  private serveLogged(id: string): void {
    this.serve(id).catch((err: Error) => this.logger.error(`ending operation ${id}: ${err.message}`));
  }

  private async serve(id: string): Promise<void> {
    const bound = this.config.routesAckTimeoutMs;
    let text: string | null;
    try {
      const { late } = await this.routes.servedBy(await this.routes.publishNow(), bound);
      text =
        late.length > 0
          ? `warning: router(s) ${late.join(', ')} did not confirm the new routes within ${Math.round(bound / 1000)} s; they may still route by the old ones`
          : null;
    } catch (err) {
      text = `warning: could not confirm that the routers serve the new routes: ${(err as Error).message}`;
    }
    let ended: Operation | null = null;
    await this.uow
      .run(REPOS, async (repos) => {
        // Its steps (every placement, with each node considered) are not read: only added to.
        const op = await repos.operations.lock(id, { steps: false });
        if (!op || terminal(op)) return;
        if (text) op.steps = [{ at: new Date().toISOString(), text }];
        const { serving: _serving, ...context } = op.context;
        op.context = context;
        op.state = 'succeeded';
        op.finishedAt = new Date();
        await repos.operations.save(op);
        ended = op;
      })
      .catch((err: Error) => this.logger.warn(`ending ${id}: ${err.message}`));
    if (!ended) return;
    const op: Operation = ended;
    this.metrics.operationEnded(op);
    if (text) this.emit(id, { kind: 'step', text });
    this.emit(id, { kind: 'end', state: op.state, error: op.error });
    await this.stages
      .get(op.kind)
      ?.ended?.(op)
      .catch((err: Error) => this.logger.warn(`after ${op.id}: ${err.message}`));
  }

  /**
   * Fails the operations that wait for a node the leader found lost: its report will not come, and its app must be
   * free for its gears to move. Returns how many there were.
   */
  async failWaitingOn(nodeId: string, nodeName: string): Promise<number> {
    let n = 0;
    for (const op of await this.operationsRepository.unfinished()) {
      if (!op.pendingNodes.includes(nodeId)) continue;
      if (await this.fail(op.id, `node ${nodeName} was lost while this operation waited for it`)) n++;
    }
    return n;
  }

  /**
   * Takes over driven operations whose broker died, and fails operations that no node finished in time (their
   * deadline), so that nothing waits forever.
   */
  private async sweep(): Promise<void> {
    await this.adopt();
    const cutoff = Date.now() - this.config.operationTimeoutMs;
    for (const op of await this.operationsRepository.unfinished()) {
      if (op.createdAt.getTime() > cutoff) continue;
      // A driven operation has a live driver (adopt() just took over those whose broker died), which ends it: each of
      // its steps waits for its own operation, which this deadline bounds, and a drain of many apps takes longer.
      if (op.context?.driven && this.drivers.has(op.kind)) continue;
      const waiting = op.pendingNodes.length > 0 ? ` waiting for node(s) ${op.pendingNodes.join(', ')}` : '';
      const failed = await this.fail(op.id, `timed out after ${Math.round(this.config.operationTimeoutMs / 1000)} s${waiting}`);
      if (failed) this.logger.warn(`operation ${op.id} (${op.kind}) ${failed.error}`);
    }
  }
}
