import { Global, Module } from '@nestjs/common';
import { MetricsHistory } from './metrics-history.service';
import { Metrics } from './metrics';

/**
 * The broker's Prometheus registry, for every room to count in, and the last hour of apps' and gears' metrics for the
 * console's charts; GET /metrics and an app's metrics are served by the health room.
 */
@Global()
@Module({ providers: [Metrics, MetricsHistory], exports: [Metrics, MetricsHistory] })
export class MetricsModule {}
