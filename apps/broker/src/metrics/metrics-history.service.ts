import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import IORedis from 'ioredis';
import { sumTraffic, trafficKey, type GearUsage } from '@gearshift/cartridges';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { Leadership } from '../leadership/leadership.service';
import { Metrics } from './metrics';
import { appPoint, gearPoint, HISTORY_SECONDS, historyAnswer, parsePoint, type AppMetricsHistory, type AppPoint, type GearPoint } from './history';

/** A node's last sample of its gears, as its heartbeat brought it to one of the brokers. */
interface NodeUsage {
  at: number;
  node: string;
  gears: GearUsage[];
}

/**
 * The last hour of each app's traffic and each gear's CPU and memory, one point per step, for the console's charts.
 *
 * Kept in Redis, not in a broker's memory, so that any broker answers and a broker that starts again has the hour:
 * one list per app and per gear, each point a short JSON array, trimmed to the hour at every push and expiring an
 * hour after its last push (an app or gear that is gone leaves nothing behind). At a 15 s step a series holds 240
 * points, packed by Redis into about 8 kB per gear and 12 kB per app: 1,000 gears of 500 apps cost some 15 MB of
 * Redis. Kept in one broker's memory instead, as Float64Arrays, they would cost a third of that, but each broker
 * would answer with its own partial hour.
 *
 * Where the values come from:
 * - apps: each router samples its HAProxy's stats socket every second and writes what it saw to a Redis hash (the
 *   router already did, for idling and the autoscaler); the broker reads that hash. The router pushes rather than
 *   the broker asking, since the broker does not know where routers are, and Redis is what both reach.
 * - gears: each agent samples Docker's stats and sends them with its heartbeat; whichever broker takes the heartbeat
 *   writes them to a Redis hash (node id → last sample), so that the broker that writes the history sees every node.
 * Only the leader writes the history, so two brokers never push the same step twice.
 */
@Injectable()
export class MetricsHistory implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('metrics');
  private readonly redis: IORedis;
  private readonly step: number;
  private failure = '';
  /** What this broker last wrote of each node's sample, and when. */
  private readonly written = new Map<string, { json: string; at: number }>();

  constructor(
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    private readonly leadership: Leadership,
    metrics: Metrics,
  ) {
    this.step = config.metricsStepSeconds;
    this.redis = new IORedis(config.redisUrl, { maxRetriesPerRequest: 2, lazyConnect: false });
    this.redis.on('error', (err) => this.logger.warn(`redis: ${err.message}`));
    metrics.onGearUsage((nodeId, node, gears) => {
      this.recordGearUsage(nodeId, node, gears).catch((err: Error) => this.logger.warn(`gear usage of node ${node} not kept: ${err.message}`));
    });
  }

  private key(...parts: string[]): string {
    return [this.config.instance, 'metrics', ...parts].join(':');
  }

  /** Points kept per series: an hour of steps. */
  private get length(): number {
    return Math.ceil(HISTORY_SECONDS / this.step);
  }

  onApplicationBootstrap(): void {
    this.leadership.whileLeader('metrics history', () => {
      // Points fall on whole multiples of the step in unix time. The timer looks several times a step and writes once
      // per step, so that a timer that drifts neither skips a step nor writes one twice.
      // One sample at a time: a Redis that is slow to answer does not pile them up.
      let last = 0;
      let busy = false;
      const timer = setInterval(
        () => {
          const t = Math.floor(Date.now() / 1000 / this.step) * this.step;
          if (t <= last || busy) return;
          last = t;
          busy = true;
          this.sample(t)
            .then(
              () => (this.failure = ''),
              (err: Error) => {
                // The same failure (Redis away) is logged once, not every step.
                if (err.message !== this.failure) this.logger.warn(`metrics history step skipped: ${err.message}`);
                this.failure = err.message;
              },
            )
            .finally(() => (busy = false));
        },
        Math.min(1000, (this.step * 1000) / 3),
      );
      return () => clearInterval(timer);
    });
  }

  onModuleDestroy(): void {
    this.redis.disconnect();
  }

  /** A node's heartbeat brought a sample of its gears' use. */
  async recordGearUsage(nodeId: string, node: string, gears: GearUsage[]): Promise<void> {
    // A node sends its last sample with every heartbeat until it takes the next: the same one is written again only
    // now and then, to say the node still has it (readers take samples up to the heartbeat timeout old).
    const json = JSON.stringify(gears);
    const last = this.written.get(nodeId);
    if (last && last.json === json && Date.now() - last.at < Math.min(5000, this.config.heartbeatTimeoutMs / 3)) return;
    const usage: NodeUsage = { at: Date.now(), node, gears };
    await this.redis.hset(this.key('gear-usage'), nodeId, JSON.stringify(usage));
    this.written.set(nodeId, { json, at: usage.at });
  }

  /** Each node's last sample of its gears, from whichever broker took its heartbeat; older than `maxAgeMs`, left out. */
  async gearUsage(maxAgeMs: number): Promise<Map<string, GearUsage[]>> {
    const raw = await this.redis.hgetall(this.key('gear-usage'));
    const now = Date.now();
    return new Map(
      Object.entries(raw)
        .map(([nodeId, json]) => [nodeId, JSON.parse(json) as NodeUsage] as const)
        .filter(([, u]) => now - u.at <= maxAgeMs)
        .map(([nodeId, u]) => [nodeId, u.gears]),
    );
  }

  /** Writes the step at `t` (unix seconds): a point for every app its routers saw lately and every running gear. */
  async sample(t: number): Promise<void> {
    const now = Date.now();
    const fresh = Math.max(30_000, 3 * this.step * 1000);
    const [rawTraffic, rawUsage] = await Promise.all([this.redis.hgetall(trafficKey(this.config.instance)), this.redis.hgetall(this.key('gear-usage'))]);
    const traffic = [...sumTraffic(rawTraffic).apps].filter(([, tr]) => now - tr.at < fresh);
    const stale = Object.entries(rawUsage).flatMap(([nodeId, json]) => ((JSON.parse(json) as NodeUsage).at < now - fresh ? [nodeId] : []));
    const usage = Object.values(rawUsage)
      .map((json) => JSON.parse(json) as NodeUsage)
      .filter((u) => now - u.at < fresh);

    const last = traffic.length ? await this.redis.pipeline(traffic.map(([appId]) => ['lindex', this.key('app', appId), '-1'])).exec() : [];
    const keep = HISTORY_SECONDS + 2 * this.step;
    const write = this.redis.pipeline();
    const push = (key: string, point: number[]) => {
      write.rpush(key, JSON.stringify(point));
      write.ltrim(key, -this.length, -1);
      write.expire(key, keep);
    };
    traffic.forEach(([appId, tr], i) => {
      const prev = parsePoint<AppPoint>(last?.[i]?.[1] as string | null);
      if (prev && prev[0] >= t) return;
      push(this.key('app', appId), appPoint(t, tr, prev, this.step));
    });
    for (const u of usage) {
      for (const g of u.gears) {
        push(this.key('gear', g.gearId), gearPoint(t, g));
        write.hset(this.key('app-gears', g.appId), g.gearId, JSON.stringify({ node: u.node, t }));
        write.expire(this.key('app-gears', g.appId), keep);
      }
    }
    if (stale.length) write.hdel(this.key('gear-usage'), ...stale);
    await write.exec();
  }

  /** An app's last `minutes` of history. */
  async history(appId: string, minutes: number): Promise<AppMetricsHistory> {
    const now = Math.floor(Date.now() / 1000);
    const [appRaw, gearsRaw] = await Promise.all([this.redis.lrange(this.key('app', appId), 0, -1), this.redis.hgetall(this.key('app-gears', appId))]);
    const from = now - HISTORY_SECONDS;
    const gears = Object.entries(gearsRaw)
      .map(([gearId, json]) => ({ name: gearId, ...(JSON.parse(json) as { node: string; t: number }) }))
      .filter((g) => g.t > from);
    const gone = Object.keys(gearsRaw).filter((id) => !gears.some((g) => g.name === id));
    if (gone.length) await this.redis.hdel(this.key('app-gears', appId), ...gone);
    const points = gears.length ? await this.redis.pipeline(gears.map((g) => ['lrange', this.key('gear', g.name), '0', '-1'])).exec() : [];
    const parsed = <P extends number[]>(raw: string[]) => raw.map((r) => parsePoint<P>(r)).filter((p): p is P => p !== undefined);
    return historyAnswer(
      this.step,
      now,
      minutes,
      parsed<AppPoint>(appRaw),
      gears.map((g, i) => ({ name: g.name, node: g.node, points: parsed<GearPoint>((points?.[i]?.[1] as string[] | undefined) ?? []) })),
    );
  }
}
