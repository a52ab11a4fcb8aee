import { Injectable, Logger } from '@nestjs/common';
import { GearshiftError } from '../common/errors';
import { UnitOfWork, type Repositories } from '../database/unit-of-work';
import type { LockName } from '../database/locks';
import { AppsRepository } from '../apps/apps.repository';
import type { App } from '../apps/app.entity';
import { DeploymentsRepository } from '../apps/deployments.repository';
import { NodesRepository } from '../fleet/nodes.repository';
import { AliasesRepository } from '../routes/aliases.repository';
import { RoutesService } from '../routes/routes.service';
import { OperationsRepository } from '../operations/operations.repository';
import { OperationsService } from '../operations/operations.service';
import { TeamsRepository } from '../teams/teams.repository';
import type { Operation } from '../operations/operation.entity';
import type { User } from '../users/user.entity';

export const CHANGE_REPOS = {
  aliases: AliasesRepository,
  apps: AppsRepository,
  deployments: DeploymentsRepository,
  nodes: NodesRepository,
  operations: OperationsRepository,
  teams: TeamsRepository,
};

/** The repositories a change to an app writes through, bound to the change's transaction. */
export type ChangeRepos = Repositories<typeof CHANGE_REPOS>;

/**
 * How a committed operation is sent: `routes` false leaves the router to hear of it later; `app` is its app as read
 * after the commit, when the caller has it (see OperationsService.dispatch).
 */
export interface SendOptions {
  routes?: boolean;
  app?: App | null;
}

/** Another operation of the app runs (409); the platform's own changes let the running one be. */
export class AppBusyError extends GearshiftError {
  constructor(app: App, active: Operation, hint: string) {
    super('conflict', `app "${app.name}" is busy with operation ${active.id} (${active.kind}); ${hint}`);
  }
}

/** What a change to an app did besides its rows: extra nodes to converge, and how its operation goes on. */
export type Change = string[] | { nodes: string[]; context: Operation['context'] } | void;

/**
 * Every change to an app runs the same way: in one transaction, only while no other operation of the app runs, the
 * change and its operation are written together; after the commit the router learns of it and the jobs go to the
 * nodes; the caller may wait for the end.
 */
@Injectable()
export class ChangeRunner {
  private readonly logger = new Logger('changes');

  constructor(
    private readonly uow: UnitOfWork,
    private readonly operations: OperationsService,
    private readonly routes: RoutesService,
  ) {}

  /**
   * Runs `work`, which records the operation, once the app is free. `busyHint` ends the refusal when another
   * operation runs; `lock` holds an advisory lock (placement) until the commit.
   */
  begin(app: App, work: (repos: ChangeRepos) => Promise<Operation>, opts: { lock?: LockName; busyHint?: string } = {}): Promise<Operation> {
    return this.uow.run(
      CHANGE_REPOS,
      async (repos) => {
        const active = await repos.operations.activeForApp(app.id);
        if (active) throw new AppBusyError(app, active, opts.busyHint ?? 'try again when it ends');
        return work(repos);
      },
      opts.lock,
    );
  }

  /**
   * The usual change: `mutate` changes the app's rows (placing gears under the placement lock), and one operation
   * converges (or, for a delete, removes) the app on every node it had or has. `user` is null when the platform
   * itself acts (autoscaling, idling, waking).
   */
  changeApp(app: App, user: User | null, kind: string, step: string, mutate: (repos: ChangeRepos, app: App) => Promise<Change>): Promise<Operation> {
    return this.begin(
      app,
      async (repos) => {
        const before = new Set((app.gears ?? []).map((g) => g.nodeId));
        const changed = (await mutate(repos, app)) ?? [];
        const { nodes: extraNodes, context } = Array.isArray(changed) ? { nodes: changed, context: {} } : changed;
        const after = await repos.apps.findById(app.id);
        const nodes = new Set([...before, ...extraNodes, ...(after?.gears ?? []).map((g) => g.nodeId)]);
        const job = kind === 'app.delete' ? ('app.remove' as const) : ('app.converge' as const);
        return this.operations.create(
          repos,
          kind,
          app.id,
          user,
          [...nodes].map((nodeId) => ({ nodeId, job })),
          step,
          context,
        );
      },
      { lock: 'placement' },
    );
  }

  /**
   * Sends a committed operation's jobs. The router hears first (a stopped or deleted app leaves it at once, before
   * its gears stop) unless `routes` is false; a send that fails is retried by the operations' sweep.
   */
  async send(op: Operation, opts: SendOptions = {}): Promise<void> {
    if (opts.routes !== false) this.routes.schedule();
    await this.operations.dispatch(op, opts.app).catch((err) => this.logger.warn(`dispatch of ${op.id} deferred: ${err.message}`));
  }

  /** Sends, then waits up to `waitSeconds` for the end (no wait: the operation as sent). */
  async sendAndWait(op: Operation, waitSeconds?: number, opts: SendOptions = {}): Promise<Operation> {
    await this.send(op, opts);
    return waitSeconds ? this.operations.wait(op, waitSeconds) : op;
  }
}
