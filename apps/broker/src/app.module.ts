import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { BROKER_CONFIG, type BrokerConfig } from './config';
import { ErrorFilter } from './common/error.filter';
import { CertificateAuthority } from './common/certificates';
import { loadSecretKey } from './common/secrets';
import { BodyInterceptor } from './common/body';
import { Store } from './database/store';
import { AppsController } from './apps/apps.controller';
import { AppsService } from './apps/apps.service';
import { GearSpecsService } from './apps/gear-specs.service';
import { GeneratedValuesService } from './apps/generated-values.service';
import { ConfigRolloutService } from './apps/config-rollout.service';
import { CartridgesController } from './cartridges/cartridges.controller';
import { CATALOG, CatalogService } from './cartridges/catalog.service';
import type { Cartridge } from '@gearshift/cartridges';
import { DomainsController } from './domains/domains.controller';
import { DomainsService } from './domains/domains.service';
import { HealthController } from './health/health.controller';
import { NodesController } from './nodes/nodes.controller';
import { NodesService } from './nodes/nodes.service';
import { OperationsController } from './operations/operations.controller';
import { OperationsService } from './operations/operations.service';
import { BrokerJobs } from './queue/broker-jobs';
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
import { LogsService } from './apps/logs.service';
import { SnapshotsController } from './snapshots/snapshots.controller';
import { SnapshotsService } from './snapshots/snapshots.service';

@Module({})
export class AppModule {
  static register(config: BrokerConfig, store: Store, catalog: Map<string, Cartridge>): DynamicModule {
    return {
      module: AppModule,
      controllers: [AuthController, UsersController, HealthController, CartridgesController, DomainsController, AppsController, OperationsController, NodesController, AliasesController, ApplyController, DeploymentsController, SnapshotsController],
      providers: [
        { provide: BROKER_CONFIG, useValue: config },
        { provide: Store, useValue: store },
        { provide: CATALOG, useValue: catalog },
        // The same key that seals secrets derives the CA, so there is nothing more to keep.
        { provide: CertificateAuthority, useFactory: (c: BrokerConfig) => CertificateAuthority.fromSecretKey(loadSecretKey(c.secretKey, c.dataDir)), inject: [BROKER_CONFIG] },
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_FILTER, useClass: ErrorFilter },
        { provide: APP_INTERCEPTOR, useClass: BodyInterceptor },
        AuthService,
        CatalogService,
        DomainsService,
        GearSpecsService,
        OperationsService,
        AppsService,
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
        RegistryJanitor,
        LogsService,
        SnapshotsService,
      ],
    };
  }
}
