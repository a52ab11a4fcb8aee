import { Global, Module } from '@nestjs/common';
import { Metrics } from './metrics';

/** The broker's Prometheus registry, for every room to count in; GET /metrics is served by the health room. */
@Global()
@Module({ providers: [Metrics], exports: [Metrics] })
export class MetricsModule {}
