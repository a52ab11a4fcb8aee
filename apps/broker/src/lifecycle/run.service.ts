import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import IORedis from 'ioredis';
import type { Response } from 'express';
import { GEAR_SIZES, gearProcessTypes, type RunMessage } from '@gearshift/cartridges';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { conflict, ruleViolation } from '../common/errors';
import { HeldPerUser } from '../common/held-per-user';
import { AppAccess } from '../apps/app-access.service';
import { DeploymentsRepository } from '../apps/deployments.repository';
import { GearSpecsService } from '../apps/gear-specs.service';
import { secretValues } from '../apps/gear-specs';
import { CatalogService } from '../cartridges/catalog.service';
import { QueueService } from '../queue/queue.service';
import type { User } from '../users/user.entity';
import type { App } from '../apps/app.entity';

const ALIVE_TTL_S = 10;

/** `POST .../run`: the command's words, and the process type whose gears' environment and node it runs with. */
export interface RunBody {
  command: string[];
  process?: string;
}

export const runSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['command'],
  properties: {
    command: { type: 'array', minItems: 1, maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 4096 } },
    process: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,30}$' },
  },
} as const;

/**
 * One-off commands (`gearshift run APP -- rake db:migrate`): a new container of the release the app serves, with
 * the environment of its gears, on the app's network, on a node that runs the release (its image is there). The
 * node sends the output and the exit code on a Redis channel of this request; the answer streams them on as lines
 * of JSON (`{"line", "stream"}`, then `{"exitCode"}` or `{"error"}`). A client that goes away kills the command.
 */
@Injectable()
export class RunService implements OnModuleDestroy {
  private readonly redis: IORedis;
  private readonly subscriber: IORedis;
  private readonly listeners = new Map<string, (m: RunMessage) => void>();
  /** Commands each user has running through this broker. */
  private readonly running = new HeldPerUser();

  constructor(
    private readonly access: AppAccess,
    private readonly deploymentsRepository: DeploymentsRepository,
    private readonly specs: GearSpecsService,
    private readonly catalog: CatalogService,
    private readonly queue: QueueService,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {
    this.redis = new IORedis(config.redisUrl, { maxRetriesPerRequest: 2 });
    this.redis.on('error', () => undefined);
    this.subscriber = new IORedis(config.redisUrl, { lazyConnect: true });
    this.subscriber.on('error', () => undefined);
    this.subscriber.on('message', (channel: string, raw: string) => {
      let message: RunMessage;
      try {
        message = JSON.parse(raw) as RunMessage;
      } catch {
        return;
      }
      this.listeners.get(channel)?.(message);
    });
  }

  onModuleDestroy(): void {
    this.redis.disconnect();
    this.subscriber.disconnect();
  }

  async run(user: User, domainName: string, appName: string, body: RunBody, res: Response): Promise<void> {
    const { app } = await this.access.requireApp(user, domainName, appName, 'develop');
    // Each command holds a container as large as a build on a node: one user may run only a few at once.
    await this.running.run(
      user.id,
      this.config.maxRuns,
      (held) => `you have ${held} commands running, the most one user may (GEARSHIFT_MAX_RUNS); wait for one to end and try again`,
      () => this.runIn(app, body, res),
    );
  }

  private async runIn(app: App, body: RunBody, res: Response): Promise<void> {
    const release = app.activeDeploymentId ? await this.deploymentsRepository.findById(app.activeDeploymentId) : null;
    if (!release?.image || release.pruned) {
      throw conflict(`app "${app.name}" has no release yet: deploy its code first (git push, or POST .../deployments), then run commands in it`);
    }
    const type = body.process ?? 'web';
    const types = gearProcessTypes(release.processes ?? {});
    if (type !== 'web' && !types.includes(type)) {
      throw ruleViolation('/process', 'procfile-process', `release ${release.number} has no process ${type}; it has web${types.map((t) => `, ${t}`).join('')}`);
    }
    // A node that runs the release has its image and the app's network; the process type's gear gives the environment.
    const gears = (app.gears ?? []).filter((g) => g.deploymentId === release.id);
    const gear = gears.find((g) => (type === 'web' ? !g.process : g.process === type)) ?? gears[0];
    if (!gear) throw conflict(`no gear of app "${app.name}" runs release ${release.number} (the app may be scaled to 0); start or scale it first`);
    const shape = await this.specs.shapeOf(app);
    const spec = (await this.specs.specs(app)).find((s) => s.gearId === gear.id)!;
    const env = { ...spec.env, GEARSHIFT_RELEASE: String(release.number) };
    const large = GEAR_SIZES.large;
    const id = randomUUID();
    // Under the logs' channel prefix: the one a node's Redis user may publish on and read the key of.
    const channel = `${this.config.instance}:logs:run-${id}`;
    const alive = `${channel}:alive`;

    await this.listen(channel);
    let timer: NodeJS.Timeout | undefined;
    const ended = new Promise<RunMessage | null>((resolve) => {
      this.listeners.set(channel, (m) => {
        if ('line' in m) res.write(`${JSON.stringify(m)}\n`);
        else resolve(m);
      });
      res.on('close', () => resolve(null));
      // A node that never answers does not hold the request forever.
      timer = setTimeout(
        () => resolve({ error: `the command did not end within ${this.config.runTimeoutSeconds} s` }),
        (this.config.runTimeoutSeconds + 60) * 1000,
      );
    });
    const keepAlive = setInterval(() => void this.redis.set(alive, '1', 'EX', ALIVE_TTL_S).catch(() => undefined), (ALIVE_TTL_S * 1000) / 3);
    // Set before the job goes: its first line may come back before the send returns. Until then, an error is still
    // the error filter's to answer.
    res.setHeader('content-type', 'application/x-ndjson; charset=utf-8');
    res.setHeader('cache-control', 'no-cache');
    res.setHeader('x-accel-buffering', 'no');
    try {
      await this.redis.set(alive, '1', 'EX', ALIVE_TTL_S);
      await this.queue.send(
        gear.nodeId,
        'app.run',
        {
          appId: app.id,
          channel,
          alive,
          image: release.image,
          command: body.command,
          env,
          network: spec.network,
          labels: { 'gearshift.release': String(release.number) },
          limits: { memoryMb: this.config.buildMemoryMb, cpus: large.cpus, pids: large.pids },
          ...(spec.security ? { security: spec.security } : {}),
          timeoutSeconds: this.config.runTimeoutSeconds,
          secrets: secretValues(shape, this.catalog.cartridges, env),
        },
        undefined,
        1,
      );
      if (!res.headersSent) res.flushHeaders();
      const end = await ended;
      if (end && !res.writableEnded) res.write(`${JSON.stringify(end)}\n`);
    } catch (err) {
      // Not begun: the error filter answers with an error body of its own type.
      if (!res.headersSent) for (const h of ['content-type', 'cache-control', 'x-accel-buffering']) res.removeHeader(h);
      throw err;
    } finally {
      clearInterval(keepAlive);
      clearTimeout(timer);
      this.listeners.delete(channel);
      await this.subscriber.unsubscribe(channel).catch(() => undefined);
      await this.redis.del(alive).catch(() => undefined);
      // An error before the answer began is the error filter's to write.
      if (res.headersSent && !res.writableEnded) res.end();
    }
  }

  private async listen(channel: string): Promise<void> {
    await this.subscriber.subscribe(channel);
  }
}
