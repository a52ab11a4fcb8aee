import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import IORedis from 'ioredis';
import type { Response } from 'express';
import type { LogMessage } from '@gearshift/cartridges';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { QueueService } from '../queue/queue.service';
import type { User } from '../users/user.entity';
import { AppsService } from './apps.service';

const ALIVE_TTL_S = 10;

/**
 * Logs of every gear of an app, from every node: each node streams its gears' output to a Redis channel of this
 * request, and the broker writes it on, each line tagged with its gear. Following lasts while the client listens.
 */
@Injectable()
export class LogsService implements OnModuleDestroy {
  private readonly redis: IORedis;

  constructor(
    private readonly apps: AppsService,
    private readonly queue: QueueService,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {
    this.redis = new IORedis(config.redisUrl, { maxRetriesPerRequest: 2 });
    this.redis.on('error', () => undefined);
  }

  onModuleDestroy(): void {
    this.redis.disconnect();
  }

  async stream(user: User, domainName: string, appName: string, opts: { tail: number; follow: boolean }, res: Response): Promise<void> {
    const { app } = await this.apps.requireApp(user, domainName, appName);
    const nodes = [...new Set((app.gears ?? []).map((g) => g.nodeId))];
    const id = randomUUID();
    const channel = `${this.config.instance}:logs:${id}`;
    const alive = `${channel}:alive`;
    const sub = this.redis.duplicate();
    sub.on('error', () => undefined);
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.setHeader('cache-control', 'no-cache');
    res.setHeader('x-accel-buffering', 'no');
    res.flushHeaders();
    if (nodes.length === 0) {
      res.end();
      sub.disconnect();
      return;
    }
    await this.redis.set(alive, '1', 'EX', ALIVE_TTL_S);
    const keepAlive = setInterval(() => void this.redis.set(alive, '1', 'EX', ALIVE_TTL_S).catch(() => undefined), (ALIVE_TTL_S * 1000) / 3);
    let pending = nodes.length;
    await new Promise<void>((resolve) => {
      const done = () => resolve();
      res.on('close', done);
      // Without follow, a node that never answers does not hold the request forever.
      const timeout = opts.follow ? undefined : setTimeout(done, 15000);
      sub.on('message', (_ch: string, raw: string) => {
        const m = JSON.parse(raw) as LogMessage;
        if ('end' in m) {
          if (--pending === 0) {
            clearTimeout(timeout);
            done();
          }
          return;
        }
        res.write(`[${m.cartridge} ${m.gear.slice(0, 8)}] ${m.line}\n`);
      });
      void sub.subscribe(channel).then(async () => {
        for (const nodeId of nodes) await this.queue.send(nodeId, 'app.logs', { appId: app.id, channel, alive, tail: opts.tail, follow: opts.follow }, undefined, 1);
      }, done);
    });
    clearInterval(keepAlive);
    await this.redis.del(alive).catch(() => undefined);
    sub.disconnect();
    if (!res.writableEnded) res.end();
  }
}
