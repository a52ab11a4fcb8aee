import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { AppsRepository } from '../apps/apps.repository';
import { DeploymentsRepository } from '../apps/deployments.repository';
import { GearshiftError, notFound } from '../common/errors';
import { UnitOfWork } from '../database/unit-of-work';
import { NodesRepository } from '../fleet/nodes.repository';
import { QueueService } from '../queue/queue.service';
import type { User } from '../users/user.entity';

/** What one node's disk hygiene removed (or, in a dry run, would remove). */
export interface NodeGcResult {
  nodeId: string;
  dryRun: boolean;
  items: { kind: string; name: string; bytes: number }[];
  freedBytes: number;
}

/**
 * Disk hygiene on the nodes: each node is sent a `node.gc` job with the facts only the broker has (which apps exist,
 * which release images deployments keep) and removes on its host what nothing needs any more. Once a day the broker
 * that holds the advisory lock sends it to every node; an administrator can ask for one node at any time.
 */
@Injectable()
export class DiskHygieneService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('disk');
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly apps: AppsRepository,
    private readonly deployments: DeploymentsRepository,
    private readonly nodes: NodesRepository,
    private readonly queue: QueueService,
    private readonly uow: UnitOfWork,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.gcHours === 0) return;
    this.timer = setInterval(
      () => void this.daily().catch((err: Error) => this.logger.warn(`the daily disk hygiene failed: ${err.message}`)),
      this.config.gcHours * 3600_000,
    );
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /**
   * Sends every node its gc job, from one broker only: the one that takes the lock. The job id names the period, so a
   * broker that runs it again within the same period (another one, or after a restart) sends nothing new.
   */
  async daily(): Promise<number> {
    const sent = await this.uow.runIfFree('diskHygiene', async () => {
      const period = Math.floor(Date.now() / (this.config.gcHours * 3600_000));
      const nodes = await this.nodes.all();
      for (const node of nodes) await this.queue.send(node.id, 'node.gc', await this.facts(false), `gc-${period}-${node.id}`, 3);
      return nodes.length;
    });
    if (sent) this.logger.log(`disk hygiene sent to ${sent} node(s)`);
    return sent ?? 0;
  }

  /** An administrator's run on one node; waits for the node's answer. */
  async runOn(user: User, idOrName: string, dryRun: boolean): Promise<NodeGcResult> {
    if (!user.isAdmin) throw new GearshiftError('forbidden', 'only an administrator can manage nodes');
    const node = /^[0-9a-f-]{36}$/.test(idOrName) ? await this.nodes.findById(idOrName) : await this.nodes.findByName(idOrName);
    if (!node) throw notFound(`node "${idOrName}"`);
    const jobId = `gc-${randomUUID()}`;
    await this.queue.send(node.id, 'node.gc', await this.facts(dryRun), jobId, 1);
    let answer: { items?: NodeGcResult['items'] };
    try {
      answer = ((await this.queue.result(node.id, jobId, 5 * 60_000)) ?? {}) as typeof answer;
    } catch (err) {
      throw new GearshiftError('unavailable', `node ${node.name}'s disk hygiene did not answer: ${(err as Error).message}`);
    }
    const items = answer.items ?? [];
    return { nodeId: node.id, dryRun, items, freedBytes: items.reduce((n, i) => n + i.bytes, 0) };
  }

  private async facts(dryRun: boolean) {
    // Read before the apps: an app made meanwhile has volumes newer than `at`, which the node leaves.
    const at = Date.now();
    const [apps, keepImages] = await Promise.all([this.apps.ids(), this.deployments.keptImages()]);
    return { at, apps, keepImages, buildCacheMb: this.config.buildCacheMb, graceMinutes: this.config.gcGraceMinutes, dryRun };
  }
}
