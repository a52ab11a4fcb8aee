import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { AppTraffic, GearUsage } from '@gearshift/cartridges';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { AppsRepository } from '../apps/apps.repository';
import { DeploymentsRepository } from '../apps/deployments.repository';
import { Metrics } from '../metrics/metrics';
import { MetricsHistory } from '../metrics/metrics-history.service';
import { NodesService } from '../nodes/nodes.service';
import { QueueService } from '../queue/queue.service';
import { RoutesService } from '../routes/routes.service';

/** How long one scrape-time read may take; a store that does not answer leaves its metrics out of that scrape. */
const READ_MS = 2000;

function bounded<T>(what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not answer within ${READ_MS} ms`)), READ_MS)));
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/**
 * The platform's state as metrics, read from Postgres and Redis at each scrape: nodes, gears by state per node,
 * queue depth per node, deployments by state, and each app's traffic as its routers' HAProxy counts it.
 */
@Injectable()
export class PlatformGauges implements OnModuleInit {
  constructor(
    private readonly metrics: Metrics,
    private readonly nodes: NodesService,
    private readonly apps: AppsRepository,
    private readonly deployments: DeploymentsRepository,
    private readonly queue: QueueService,
    private readonly routes: RoutesService,
    private readonly history: MetricsHistory,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

  onModuleInit(): void {
    const m = this.metrics;
    m.observed('gauge', 'gearshift_node_ready', 'Whether a node is ready (its agent beats), by node and state', ['node', 'state'], async (set) => {
      for (const n of await bounded('Postgres', this.nodes.summary())) set({ node: n.name, state: n.state }, n.ready ? 1 : 0);
    });
    m.observed('gauge', 'gearshift_gears', 'Gears by node and state', ['node', 'state'], async (set) => {
      const names = await this.nodeNames();
      for (const g of await bounded('Postgres', this.apps.gearStates())) set({ node: names.get(g.nodeId) ?? g.nodeId, state: g.state }, g.count);
    });
    m.observed('gauge', 'gearshift_queue_jobs', "Jobs in a node's queue, by node and state (waiting or active)", ['node', 'state'], async (set) => {
      for (const [id, name] of await this.nodeNames()) {
        const depth = await bounded('Redis', this.queue.depth(id));
        set({ node: name, state: 'waiting' }, depth.waiting);
        set({ node: name, state: 'active' }, depth.active);
      }
    });
    m.observed('gauge', 'gearshift_queue_depth', "Jobs waiting in a node's queue for its agent to take them", ['node'], async (set) => {
      for (const [id, name] of await this.nodeNames()) set({ node: name }, (await bounded('Redis', this.queue.depth(id))).waiting);
    });
    m.observed('gauge', 'gearshift_deployments', 'Deployments by state', ['state'], async (set) => {
      for (const d of await bounded('Postgres', this.deployments.countByState())) set({ state: d.state }, d.count);
    });
    this.traffic();
    this.gearUsage();
  }

  /**
   * Per gear, from the CPU and memory its node samples from Docker and sends with its heartbeats, read from Redis:
   * each heartbeat reaches one broker, and every broker answers for every node.
   */
  private gearUsage(): void {
    const m = this.metrics;
    const labels = ['node', 'domain', 'app', 'gear'] as const;
    const each = async (
      set: (labels: Record<'node' | 'domain' | 'app' | 'gear', string>, value: number) => void,
      value: (u: GearUsage) => number | undefined,
    ) => {
      const [nodes, names, usage] = await Promise.all([
        this.nodeNames(),
        bounded('Postgres', this.apps.names()),
        bounded('Redis', this.history.gearUsage(this.config.heartbeatTimeoutMs)),
      ]);
      for (const [nodeId, gears] of usage) {
        for (const u of gears) {
          const name = names.get(u.appId);
          const v = value(u);
          if (name && v !== undefined) set({ node: nodes.get(nodeId) ?? nodeId, ...name, gear: u.gearId }, v);
        }
      }
    };
    m.observed('counter', 'gearshift_gear_cpu_seconds_total', 'CPU time a running gear has used since its container started (Docker stats)', labels, (set) =>
      each(set, (u) => u.cpuSeconds),
    );
    m.observed('gauge', 'gearshift_gear_cpu_ratio', "CPU a running gear used between its node's last two samples, in cores (Docker stats)", labels, (set) =>
      each(set, (u) => u.cpuRatio),
    );
    m.observed('gauge', 'gearshift_gear_memory_bytes', 'Memory a running gear uses, less reclaimable page cache (Docker stats)', labels, (set) =>
      each(set, (u) => u.memoryBytes),
    );
  }

  /** Per app, from the traffic its routers sample from HAProxy every second. */
  private traffic(): void {
    const m = this.metrics;
    const labels = ['domain', 'app'] as const;
    const each = async (set: (labels: Record<'domain' | 'app', string>, value: number) => void, value: (t: AppTraffic) => number | undefined) => {
      const [traffic, names] = await Promise.all([bounded('Redis', this.routes.traffic()), bounded('Postgres', this.apps.names())]);
      for (const [appId, t] of traffic) {
        const name = names.get(appId);
        const v = value(t);
        if (name && v !== undefined) set(name, v);
      }
    };
    m.observed('gauge', 'gearshift_app_requests_per_second', "Requests per second to an app through the router, over the router's last sample", labels, (set) =>
      each(set, (t) => t.rate),
    );
    m.observed('gauge', 'gearshift_app_concurrent_requests', 'Requests an app is serving or has queued at the router now', labels, (set) =>
      each(set, (t) => t.concurrent),
    );
    m.observed(
      'counter',
      'gearshift_app_requests_total',
      'HTTP requests to an app through the router (HAProxy counts them; a reload starts again at 0)',
      labels,
      (set) => each(set, (t) => t.http?.requests),
    );
    m.observed(
      'counter',
      'gearshift_app_errors_total',
      'HTTP 5xx answers an app gave through the router (HAProxy counts them; a reload starts again at 0)',
      labels,
      (set) => each(set, (t) => t.http?.errors),
    );
    m.observed('gauge', 'gearshift_app_response_time_seconds', "Average response time of an app's recent requests, as HAProxy measures it", labels, (set) =>
      each(set, (t) => (t.http ? t.http.responseMs / 1000 : undefined)),
    );
  }

  private async nodeNames(): Promise<Map<string, string>> {
    return new Map((await bounded('Postgres', this.nodes.summary())).map((n) => [n.id, n.name]));
  }
}
