import { Module } from '@nestjs/common';
import { AppsModule } from '../apps/apps.module';
import { CartridgesModule } from '../cartridges/cartridges.module';
import { ChangesModule } from '../changes/changes.module';
import { LifecycleModule } from '../lifecycle/lifecycle.module';
import { OperationsModule } from '../operations/operations.module';
import { QueueModule } from '../queue/queue.module';
import { UsersModule } from '../users/users.module';
import { UpgradesController } from './upgrades.controller';
import { UpgradeAbortService } from './upgrade-abort.service';
import { UpgradesService } from './upgrades.service';

/** Database upgrades that keep the data: one operation from the old major version to the new. */
@Module({
  imports: [AppsModule, CartridgesModule, ChangesModule, LifecycleModule, OperationsModule, QueueModule, UsersModule],
  controllers: [UpgradesController],
  providers: [UpgradesService, UpgradeAbortService],
  exports: [UpgradesService],
})
export class UpgradesModule {}
