import { Module } from '@nestjs/common';
import { AppsModule } from '../apps/apps.module';
import { CartridgesModule } from '../cartridges/cartridges.module';
import { ChangesModule } from '../changes/changes.module';
import { FleetModule } from '../fleet/fleet.module';
import { LifecycleModule } from '../lifecycle/lifecycle.module';
import { OperationsModule } from '../operations/operations.module';
import { RoutesModule } from '../routes/routes.module';
import { UsersModule } from '../users/users.module';
import { DeploymentsService } from './deployments.service';
import { DeploymentStages } from './deployment-stages.service';
import { RegistryJanitor } from './registry-janitor';
import { GitRepositories } from './git-repositories';
import { DeploymentSources } from './sources';
import { FetchGuard } from './fetch-guard';
import { DeploymentsController } from './deployments.controller';

/** Deployments: source in, a release out, rolled out. */
@Module({
  imports: [AppsModule, CartridgesModule, ChangesModule, FleetModule, LifecycleModule, OperationsModule, RoutesModule, UsersModule],
  controllers: [DeploymentsController],
  providers: [DeploymentsService, DeploymentStages, RegistryJanitor, GitRepositories, DeploymentSources, FetchGuard],
  exports: [DeploymentsService, RegistryJanitor, DeploymentSources],
})
export class DeploymentsModule {}
