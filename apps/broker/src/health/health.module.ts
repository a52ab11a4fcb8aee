import { Module } from '@nestjs/common';
import { AppsModule } from '../apps/apps.module';
import { NodesModule } from '../nodes/nodes.module';
import { QueueModule } from '../queue/queue.module';
import { RoutesModule } from '../routes/routes.module';
import { UsersModule } from '../users/users.module';
import { AppMetricsController } from './app-metrics.controller';
import { AppMetricsService } from './app-metrics.service';
import { HealthController } from './health.controller';
import { MetricsController } from './metrics.controller';
import { PlatformGauges } from './platform-gauges';

/** The broker's own health (liveness, readiness), the platform's metrics for Prometheus, and each app's recent metrics. */
@Module({
  imports: [AppsModule, NodesModule, QueueModule, RoutesModule, UsersModule],
  controllers: [HealthController, MetricsController, AppMetricsController],
  providers: [PlatformGauges, AppMetricsService],
})
export class HealthModule {}
