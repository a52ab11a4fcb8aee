import { Module } from '@nestjs/common';
import { AppsModule } from '../apps/apps.module';
import { AuditModule } from '../audit/audit.module';
import { CartridgesModule } from '../cartridges/cartridges.module';
import { ChangesModule } from '../changes/changes.module';
import { DomainsModule } from '../domains/domains.module';
import { FleetModule } from '../fleet/fleet.module';
import { NodesModule } from '../nodes/nodes.module';
import { OperationsModule } from '../operations/operations.module';
import { QueueModule } from '../queue/queue.module';
import { RoutesModule } from '../routes/routes.module';
import { UsersModule } from '../users/users.module';
import { NodeDrainController } from './node-drain.controller';
import { NodeDrainService } from './node-drain.service';
import { AppGears } from './app-gears.service';
import { AppsPresenter } from './apps.presenter';
import { AppsService } from './apps.service';
import { ConfigRolloutService } from './config-rollout.service';
import { LogsService } from './logs.service';
import { RunService } from './run.service';
import { TerminalGateway } from './terminal.gateway';
import { AppsController } from './apps.controller';

/** The apps API: creating, changing, scaling and deleting apps. */
@Module({
  imports: [
    AppsModule,
    AuditModule,
    CartridgesModule,
    ChangesModule,
    DomainsModule,
    FleetModule,
    NodesModule,
    OperationsModule,
    QueueModule,
    RoutesModule,
    UsersModule,
  ],
  controllers: [AppsController, NodeDrainController],
  providers: [AppGears, AppsPresenter, AppsService, ConfigRolloutService, LogsService, NodeDrainService, RunService, TerminalGateway],
  exports: [AppGears, AppsPresenter, AppsService, ConfigRolloutService, LogsService, RunService],
})
export class LifecycleModule {}
