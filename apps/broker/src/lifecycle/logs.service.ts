import { Inject, Injectable } from '@nestjs/common';
import type { Response } from 'express';
import { gearProcessTypes, redactor, type LogMessage } from '@gearshift/cartridges';
import { ruleViolation } from '../common/errors';
import { unknownService } from './unknown-service';
import { DeploymentsRepository } from '../apps/deployments.repository';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { QueueService } from '../queue/queue.service';
import { NodeRelay } from '../queue/node-relay';
import { AppsRepository } from '../apps/apps.repository';
import type { User } from '../users/user.entity';
import type { App } from '../apps/app.entity';
import { AppAccess } from '../apps/app-access.service';
import { HeldPerUser } from '../common/held-per-user';
import { allStreams, BoundedStream, droppedWords, responseSink } from '../common/bounded-stream';
import { CatalogService } from '../cartridges/catalog.service';
import { GearSpecsService } from '../apps/gear-specs.service';
import { secretValues } from '../apps/gear-specs';

/** `process`: only the lines of one Procfile process type's gears (`web`: the web gears). */
export interface LogOptions {
  tail: number;
  follow: boolean;
  process?: string;
  /** Only the gears of this named service. */
  service?: string;
}

/**
 * Logs of every gear of an app, from every node: each node streams its gears' output to a Redis channel of this
 * request, and the broker writes it on, each line tagged with its gear. Following lasts while the client listens.
 */
@Injectable()
export class LogsService {
  /** Log requests open per user: each holds a Redis channel and a job per node, so one user may hold only so many. */
  private readonly open = new HeldPerUser();

  constructor(
    private readonly access: AppAccess,
    private readonly queue: QueueService,
    private readonly relayOf: NodeRelay,
    private readonly appsRepository: AppsRepository,
    private readonly catalog: CatalogService,
    private readonly specs: GearSpecsService,
    private readonly deployments: DeploymentsRepository,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

  async stream(user: User, domainName: string, appName: string, opts: LogOptions, res: Response): Promise<void> {
    const { app } = await this.access.requireApp(user, domainName, appName, 'read');
    await this.checkNames(app, opts);
    await this.open.run(
      user.id,
      this.config.maxLogStreams,
      (held) => `you have ${held} log streams open, the most one user may (GEARSHIFT_MAX_LOG_STREAMS); close one and try again`,
      () => this.relay(app, opts, res),
    );
  }

  private async relay(app: App, opts: LogOptions, res: Response): Promise<void> {
    const nodes = [...new Set((app.gears ?? []).map((g) => g.nodeId))];
    const web = this.catalog.webOf((app.cartridges ?? []).map((c) => c.cartridge))?.manifest.name;
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.setHeader('cache-control', 'no-cache');
    res.setHeader('x-accel-buffering', 'no');
    res.flushHeaders();
    if (nodes.length === 0) {
      res.end();
      return;
    }
    // What the app's gears print of their credentials is hidden, as in a command's output: a viewer of the app
    // reads its logs, and its generated passwords are not theirs to see.
    const redact = await this.redactorFor(app);
    const relay = await this.relayOf.open<LogMessage>();
    const { channel, alive } = relay;
    // A follower that reads slower than the gears print is held GEARSHIFT_STREAM_BUFFER of it; the rest is dropped,
    // and a line says how much once it caught up.
    const out = new BoundedStream(responseSink(res), {
      limit: this.config.streamBuffer,
      shared: allStreams(this.config.streamBufferTotal),
      join: (lines) => lines.join(''),
      notice: (d) => `[gearshift] ${droppedWords(d)}\n`,
    });
    let pending = nodes.length;
    const asked = new Set<string>();
    const ask = async (nodeIds: string[]) => {
      for (const nodeId of nodeIds.filter((n) => !asked.has(n))) {
        asked.add(nodeId);
        await this.queue.send(nodeId, 'app.logs', { appId: app.id, channel, alive, tail: opts.tail, follow: opts.follow }, undefined, 1);
      }
    };
    let watch: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      const done = () => resolve();
      res.on('close', done);
      // Without follow, a node that never answers does not hold the request forever.
      const timeout = opts.follow ? undefined : setTimeout(done, 15000);
      relay.onMessage((m) => {
        if ('end' in m) {
          if (--pending === 0) {
            clearTimeout(timeout);
            done();
          }
          return;
        }
        // `web` is every gear of the app's code that runs no other process type (and no named service).
        if (opts.process && (m.process ?? (m.cartridge === web && !m.service ? 'web' : undefined)) !== opts.process) return;
        if (opts.service && m.service !== opts.service) return;
        const what = m.service ? m.service : m.process ? `${m.cartridge} ${m.process}` : m.cartridge;
        out.write(`[${what} ${m.gear.slice(0, 8)}${m.failed ? `, ${m.failed}` : ''}] ${redact(m.line)}\n`);
      });
      ask(nodes).catch(done);
      // A follower also hears nodes the app's gears move to, and ends with the app.
      if (opts.follow) {
        watch = setInterval(() => {
          void this.appsRepository
            .findById(app.id)
            .then((now) => {
              if (!now || now.desiredState === 'deleting') return done();
              return ask([...new Set((now.gears ?? []).map((g) => g.nodeId))]);
            })
            .catch(() => undefined);
        }, 2000);
      }
    });
    clearInterval(watch);
    await relay.close();
    out.end();
    if (!res.writableEnded) res.end();
  }

  /** Hides the credentials any gear of the app is given: the cartridges' generated values and secret-named variables. */
  private async redactorFor(app: App): Promise<(line: string) => string> {
    const shape = await this.specs.shapeOf(app);
    const env = Object.assign({}, ...(await this.specs.specs(app)).map((s) => s.env)) as Record<string, string>;
    return redactor(secretValues(shape, this.catalog.cartridges, env));
  }

  /** A process type or service the app has none of is named in a 422, with those it has: an empty log says nothing. */
  private async checkNames(app: App, opts: LogOptions): Promise<void> {
    if (opts.process === undefined && opts.service === undefined) return;
    const gears = app.gears ?? [];
    const release = app.activeDeploymentId ? await this.deployments.findById(app.activeDeploymentId) : null;
    if (opts.service !== undefined) {
      const names = [...new Set([...Object.keys(release?.services ?? {}), ...gears.flatMap((g) => (g.service ? [g.service] : []))])].sort();
      if (!names.includes(opts.service)) throw unknownService('?service', `app "${app.name}"`, opts.service, names);
    }
    if (opts.process !== undefined) {
      const web = this.catalog.webOf((app.cartridges ?? []).map((c) => c.cartridge));
      const types = [
        ...new Set([...(web ? ['web'] : []), ...gearProcessTypes(release?.processes ?? {}), ...gears.flatMap((g) => (g.process ? [g.process] : []))]),
      ];
      if (!types.includes(opts.process))
        throw ruleViolation(
          '?process',
          'procfile-process',
          `app "${app.name}" has no process ${opts.process}${types.length ? `; it has ${types.join(', ')}` : ''}${Object.keys(release?.services ?? {}).length ? ' (its services are named with ?service)' : ''}`,
        );
    }
  }
}
