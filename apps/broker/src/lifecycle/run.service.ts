import { Inject, Injectable } from '@nestjs/common';
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
import { NodeRelay } from '../queue/node-relay';
import type { User } from '../users/user.entity';
import type { App } from '../apps/app.entity';

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

/** How a one-off command ended: its exit code, or why it could not run. */
export type RunEnd = { exitCode: number } | { error: string };

/** What runs, for whom: the command's words and the process type whose gear gives the environment and the node. */
export interface RunRequest {
  command: string[];
  process?: string;
}

/**
 * One-off commands (`gearshift run APP -- rake db:migrate`): a new container of the release the app serves, with
 * the environment of its gears, on the app's network, on a node that runs the release (its image is there). The
 * node sends the output and the exit code on a relay channel of this request; the answer streams them on as lines
 * of JSON (`{"line", "stream"}`, then `{"exitCode"}` or `{"error"}`). A client that goes away kills the command.
 */
@Injectable()
export class RunService {
  /** Commands each user has running through this broker. */
  private readonly running = new HeldPerUser();

  constructor(
    private readonly access: AppAccess,
    private readonly deploymentsRepository: DeploymentsRepository,
    private readonly specs: GearSpecsService,
    private readonly catalog: CatalogService,
    private readonly queue: QueueService,
    private readonly relays: NodeRelay,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

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
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    try {
      const end = await this.execute(app, body, (m) => res.write(`${JSON.stringify(m)}\n`), {
        signal: gone.signal,
        // Set before the job goes: its first line may come back before the send returns. Until then, an error is
        // still the error filter's to answer.
        sending: () => {
          res.setHeader('content-type', 'application/x-ndjson; charset=utf-8');
          res.setHeader('cache-control', 'no-cache');
          res.setHeader('x-accel-buffering', 'no');
        },
        sent: () => {
          if (!res.headersSent) res.flushHeaders();
        },
      });
      if (end && !res.writableEnded) res.write(`${JSON.stringify(end)}\n`);
    } catch (err) {
      // Not begun: the error filter answers with an error body of its own type.
      if (!res.headersSent) for (const h of ['content-type', 'cache-control', 'x-accel-buffering']) res.removeHeader(h);
      throw err;
    } finally {
      // An error before the answer began is the error filter's to write.
      if (res.headersSent && !res.writableEnded) res.end();
    }
  }

  /**
   * Runs `request` once in a new container of the app's release and passes on each line of its output; resolves how
   * it ended, or null when `signal` ended it first (the command is then killed). Throws, before anything runs, when
   * the app has no release or no gear of it to run beside.
   */
  async execute(
    app: App,
    request: RunRequest,
    onLine: (m: Extract<RunMessage, { line: string }>) => void,
    opts: { signal?: AbortSignal; labels?: Record<string, string>; sending?: () => void; sent?: () => void } = {},
  ): Promise<RunEnd | null> {
    const release = app.activeDeploymentId ? await this.deploymentsRepository.findById(app.activeDeploymentId) : null;
    if (!release?.image || release.pruned) {
      throw conflict(`app "${app.name}" has no release yet: deploy its code first (git push, or POST .../deployments), then run commands in it`);
    }
    const type = request.process ?? 'web';
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

    const relay = await this.relays.open<RunMessage>('run-');
    let timer: NodeJS.Timeout | undefined;
    const ended = new Promise<RunEnd | null>((resolve) => {
      relay.onMessage((m) => {
        if ('line' in m) onLine(m);
        else resolve(m);
      });
      if (opts.signal?.aborted) resolve(null);
      opts.signal?.addEventListener('abort', () => resolve(null));
      // A node that never answers does not hold the request forever.
      timer = setTimeout(
        () => resolve({ error: `the command did not end within ${this.config.runTimeoutSeconds} s` }),
        (this.config.runTimeoutSeconds + 60) * 1000,
      );
    });
    try {
      opts.sending?.();
      await this.queue.send(
        gear.nodeId,
        'app.run',
        {
          appId: app.id,
          channel: relay.channel,
          alive: relay.alive,
          image: release.image,
          command: request.command,
          env,
          network: spec.network,
          labels: { ...opts.labels, 'gearshift.release': String(release.number) },
          limits: { memoryMb: this.config.buildMemoryMb, cpus: large.cpus, pids: large.pids },
          ...(spec.security ? { security: spec.security } : {}),
          timeoutSeconds: this.config.runTimeoutSeconds,
          secrets: secretValues(shape, this.catalog.cartridges, env),
        },
        undefined,
        1,
      );
      opts.sent?.();
      return await ended;
    } finally {
      clearTimeout(timer);
      // The key goes: the node kills a command still running.
      await relay.close();
    }
  }
}
