import { Module } from '@nestjs/common';
import { AppsModule } from '../apps/apps.module';
import { CartridgesModule } from '../cartridges/cartridges.module';
import { ChangesModule } from '../changes/changes.module';
import { LifecycleModule } from '../lifecycle/lifecycle.module';
import { OperationsModule } from '../operations/operations.module';
import { RoutesModule } from '../routes/routes.module';
import { AutoscalerService } from './autoscaler.service';
import { ScalingService } from './scaling.service';

/** Autoscaling, idling and waking. */
@Module({
  imports: [AppsModule, CartridgesModule, ChangesModule, LifecycleModule, OperationsModule, RoutesModule],
  providers: [AutoscalerService, ScalingService],
  exports: [AutoscalerService, ScalingService],
})
export class ScalingModule {}
