import { Injectable, Logger } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { GearUsage, JobTiming } from '@gearshift/cartridges';
import { methodLabel } from '../common/http-requests';

/**
 * The broker's Prometheus metrics (prom-client), every name prefixed `gearshift_`. Counters and histograms that
 * code updates as things happen live here; gauges read at scrape time (gears by state, queue depth) are added by
 * the rooms that can read them, through observed().
 */
@Injectable()
export class Metrics {
  readonly registry = new Registry();
  private readonly logger = new Logger('metrics');

  private readonly httpRequests = new Counter({
    name: 'gearshift_http_requests_total',
    help: 'API requests by route template, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });

  private readonly httpDuration = new Histogram({
    name: 'gearshift_http_request_duration_seconds',
    help: 'Time to answer an API request, by route template and method',
    labelNames: ['route', 'method'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  private readonly operations = new Counter({
    name: 'gearshift_operations_total',
    help: 'Operations ended, by kind and outcome (succeeded or failed)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [this.registry],
  });

  private readonly operationDuration = new Histogram({
    name: 'gearshift_operation_duration_seconds',
    help: 'Time from an operation being queued to its end, by kind and outcome',
    labelNames: ['kind', 'outcome'] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900],
    registers: [this.registry],
  });

  private readonly deployments = new Counter({
    name: 'gearshift_deployments_total',
    help: 'Deployments ended, by outcome (activated, build_failed, rolled_back)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly buildDuration = new Histogram({
    name: 'gearshift_build_duration_seconds',
    help: 'Time from a deployment being queued to the end of its build, by outcome (built or failed)',
    labelNames: ['outcome'] as const,
    buckets: [1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 900],
    registers: [this.registry],
  });

  private readonly jobDuration = new Histogram({
    name: 'gearshift_job_duration_seconds',
    help: "Time from a job being queued for a node to its end on that node's agent, by node and job kind",
    labelNames: ['node', 'kind'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900],
    registers: [this.registry],
  });

  private readonly placementChecks = new Counter({
    name: 'gearshift_placement_checks_total',
    help: 'Creates placed without the placement lock and checked at their commit, by outcome (held, or placed_again under the lock)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor() {
    // The broker process itself: memory, CPU, event loop lag, under gearshift_broker_.
    collectDefaultMetrics({ register: this.registry, prefix: 'gearshift_broker_' });
  }

  request(route: string, method: string, status: number, seconds: number): void {
    const m = methodLabel(method);
    this.httpRequests.inc({ route, method: m, status: String(status) });
    this.httpDuration.observe({ route, method: m }, seconds);
  }

  operationEnded(op: { kind: string; state: string; createdAt: Date; finishedAt: Date | null }): void {
    const outcome = op.state === 'succeeded' ? 'succeeded' : 'failed';
    this.operations.inc({ kind: op.kind, outcome });
    const seconds = ((op.finishedAt ?? new Date()).getTime() - op.createdAt.getTime()) / 1000;
    if (seconds >= 0) this.operationDuration.observe({ kind: op.kind, outcome }, seconds);
  }

  placementChecked(outcome: 'held' | 'placed_again'): void {
    this.placementChecks.inc({ outcome });
  }

  deploymentEnded(outcome: 'activated' | 'build_failed' | 'rolled_back'): void {
    this.deployments.inc({ outcome });
  }

  buildEnded(outcome: 'built' | 'failed', seconds: number): void {
    if (seconds >= 0) this.buildDuration.observe({ outcome }, seconds);
  }

  /** Jobs a node's agent finished, as its heartbeat tells them (each heartbeat reaches one broker: sum over brokers). */
  jobsEnded(node: string, jobs: readonly JobTiming[]): void {
    for (const j of jobs) if (j.seconds >= 0) this.jobDuration.observe({ node, kind: j.kind }, j.seconds);
  }

  /** Who keeps each node's sample of its gears (the history, in Redis, where every broker reads it). */
  private readonly usageListeners: ((nodeId: string, node: string, gears: GearUsage[]) => void)[] = [];

  /** A node's heartbeat brought its running gears' CPU and memory. */
  recordGearUsage(nodeId: string, gears: GearUsage[], node = nodeId): void {
    for (const listener of this.usageListeners) listener(nodeId, node, gears);
  }

  onGearUsage(listener: (nodeId: string, node: string, gears: GearUsage[]) => void): void {
    this.usageListeners.push(listener);
  }

  /**
   * A metric whose values `read` sets at each scrape (with `set(labels, value)`): a gauge, or a counter that some
   * other process keeps (HAProxy's). A failing read is logged and leaves it empty: the other metrics are still
   * served, and readiness says what is down.
   */
  observed<L extends string>(
    type: 'gauge' | 'counter',
    name: string,
    help: string,
    labelNames: readonly L[],
    read: (set: (labels: Record<L, string>, value: number) => void) => Promise<void>,
  ): void {
    const logger = this.logger;
    const failed = (err: Error) => logger.warn(`metric ${name}: ${err.message}`);
    if (type === 'gauge') {
      new Gauge<L>({
        name,
        help,
        labelNames,
        registers: [this.registry],
        async collect() {
          this.reset();
          await read((labels, value) => this.set(labels as never, value)).catch(failed);
        },
      });
      return;
    }
    new Counter<L>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      async collect() {
        this.reset();
        await read((labels, value) => this.inc(labels as never, value)).catch(failed);
      },
    });
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
