import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { BrokerConfig } from './config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { App } from './apps/app.entity';
import { AppCartridge } from './apps/app-cartridge.entity';
import { Gear } from './apps/gear.entity';
import { AppsRepository } from './apps/apps.repository';
import { CartridgeRecord } from './cartridges/cartridge.entity';
import { CartridgesRepository } from './cartridges/cartridges.repository';
import { Domain } from './domains/domain.entity';
import { DomainsRepository } from './domains/domains.repository';
import { Node, NodeJoinToken } from './fleet/node.entity';
import { NodesRepository } from './fleet/nodes.repository';
import { Operation } from './operations/operation.entity';
import { OperationsRepository } from './operations/operations.repository';
import { ApiToken, User } from './users/user.entity';
import { UsersRepository } from './users/users.repository';
import { Alias } from './routes/alias.entity';
import { AliasesRepository } from './routes/aliases.repository';
import { Deployment } from './apps/deployment.entity';
import { DeploymentsRepository } from './apps/deployments.repository';
import { DomainApps } from './domains/domain-apps';
import { CartridgesInUse } from './cartridges/cartridges-in-use';
import { NodeAddresses } from './apps/node-addresses';
import { AppAccess } from './apps/app-access.service';
import { AppGears } from './lifecycle/app-gears.service';
import { AppsPresenter } from './lifecycle/apps.presenter';
import { ChangeRunner } from './changes/change-runner';
import { ScalingService } from './scaling/scaling.service';
import { DeploymentSources } from './deployments/sources';
import { DatabaseModule } from './database/database.module';
import { CoreModule } from './core.module';
import { AppsController } from './lifecycle/apps.controller';
import { AppsService } from './lifecycle/apps.service';
import { GearSpecsService } from './apps/gear-specs.service';
import { GeneratedValuesService } from './apps/generated-values.service';
import { ConfigRolloutService } from './lifecycle/config-rollout.service';
import { CartridgesController } from './cartridges/cartridges.controller';
import { CatalogService } from './cartridges/catalog.service';
import type { Cartridge } from '@gearshift/cartridges';
import { DomainsController } from './domains/domains.controller';
import { DomainsService } from './domains/domains.service';
import { HealthController } from './health/health.controller';
import { NodesController } from './nodes/nodes.controller';
import { NodesService } from './nodes/nodes.service';
import { OperationsController } from './operations/operations.controller';
import { OperationsService } from './operations/operations.service';
import { BrokerJobs } from './broker-jobs';
import { QueueService } from './queue/queue.service';
import { AuthController } from './users/auth.controller';
import { AuthGuard } from './users/auth.guard';
import { AuthService } from './users/auth.service';
import { UsersController } from './users/users.controller';
import { AliasesController } from './routes/aliases.controller';
import { AliasesService } from './routes/aliases.service';
import { RoutesService } from './routes/routes.service';
import { AutoscalerService } from './scaling/autoscaler.service';
import { ApplyController } from './apply/apply.controller';
import { ApplyService } from './apply/apply.service';
import { DeploymentsController } from './deployments/deployments.controller';
import { DeploymentsService } from './deployments/deployments.service';
import { RegistryJanitor } from './deployments/registry-janitor';
import { LogsService } from './lifecycle/logs.service';
import { SnapshotsController } from './snapshots/snapshots.controller';
import { SnapshotsService } from './snapshots/snapshots.service';

/** Every entity, and every repository; each is one concern, built on the shared EntityManager. */
const ENTITIES = [User, ApiToken, Domain, App, AppCartridge, Gear, Node, NodeJoinToken, Operation, CartridgeRecord, Alias, Deployment];
const REPOSITORIES = [UsersRepository, DomainsRepository, AppsRepository, NodesRepository, OperationsRepository, CartridgesRepository, AliasesRepository, DeploymentsRepository];

@Module({})
export class AppModule {
  static register(config: BrokerConfig, catalog: Map<string, Cartridge>): DynamicModule {
    return {
      module: AppModule,
      imports: [CoreModule.register(config, catalog), DatabaseModule, TypeOrmModule.forFeature(ENTITIES)],
      controllers: [AuthController, UsersController, HealthController, CartridgesController, DomainsController, AppsController, OperationsController, NodesController, AliasesController, ApplyController, DeploymentsController, SnapshotsController],
      providers: [
        { provide: APP_GUARD, useClass: AuthGuard },
        ...REPOSITORIES,
        // Questions a lower room asks of a higher one, answered by the higher room's repository.
        { provide: DomainApps, useExisting: AppsRepository },
        { provide: CartridgesInUse, useExisting: AppsRepository },
        { provide: NodeAddresses, useExisting: NodesRepository },
        AuthService,
        CatalogService,
        DomainsService,
        GearSpecsService,
        OperationsService,
        AppsService,
        AppAccess,
        AppGears,
        AppsPresenter,
        ChangeRunner,
        ScalingService,
        GeneratedValuesService,
        ConfigRolloutService,
        NodesService,
        QueueService,
        BrokerJobs,
        RoutesService,
        AliasesService,
        AutoscalerService,
        ApplyService,
        DeploymentsService,
        DeploymentSources,
        RegistryJanitor,
        LogsService,
        SnapshotsService,
      ],
    };
  }
}
