import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { Cartridge } from '@gearshift/cartridges';
import type { BrokerConfig } from './config';
import { CoreModule } from './core.module';
import { DatabaseModule } from './database/database.module';
import { LeadershipModule } from './leadership/leadership.module';
import { SeamsModule } from './seams.module';
import { BrokerJobs } from './broker-jobs';
import { ApplyModule } from './apply/apply.module';
import { AppsModule } from './apps/apps.module';
import { AuditModule } from './audit/audit.module';
import { CartridgesModule } from './cartridges/cartridges.module';
import { CronModule } from './cron/cron.module';
import { ChangesModule } from './changes/changes.module';
import { DeploymentsModule } from './deployments/deployments.module';
import { DomainsModule } from './domains/domains.module';
import { FleetModule } from './fleet/fleet.module';
import { HealthModule } from './health/health.module';
import { LifecycleModule } from './lifecycle/lifecycle.module';
import { MetricsModule } from './metrics/metrics.module';
import { NodesModule } from './nodes/nodes.module';
import { OperationsModule } from './operations/operations.module';
import { QueueModule } from './queue/queue.module';
import { RecoveryModule } from './recovery/recovery.module';
import { RoutesModule } from './routes/routes.module';
import { ScalingModule } from './scaling/scaling.module';
import { SnapshotsModule } from './snapshots/snapshots.module';
import { UpgradesModule } from './upgrades/upgrades.module';
import { TeamsModule } from './teams/teams.module';
import { AuthGuard } from './users/auth.guard';
import { UsersModule } from './users/users.module';

/** The broker: one module per room, the global ones first, and the queue's wiring to the handlers above them all. */
@Module({})
export class AppModule {
  static register(config: BrokerConfig, catalog: Map<string, Cartridge>): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.register(config, catalog),
        DatabaseModule,
        MetricsModule,
        LeadershipModule,
        SeamsModule,
        QueueModule,
        UsersModule,
        AuditModule,
        TeamsModule,
        CartridgesModule,
        DomainsModule,
        AppsModule,
        FleetModule,
        RoutesModule,
        OperationsModule,
        ChangesModule,
        NodesModule,
        LifecycleModule,
        ApplyModule,
        ScalingModule,
        DeploymentsModule,
        CronModule,
        SnapshotsModule,
        RecoveryModule,
        UpgradesModule,
        HealthModule,
      ],
      providers: [{ provide: APP_GUARD, useClass: AuthGuard }, BrokerJobs],
    };
  }
}
