import { Module } from '@nestjs/common';
import { AppsModule } from '../apps/apps.module';
import { CartridgesModule } from '../cartridges/cartridges.module';
import { ChangesModule } from '../changes/changes.module';
import { DomainsModule } from '../domains/domains.module';
import { FleetModule } from '../fleet/fleet.module';
import { LifecycleModule } from '../lifecycle/lifecycle.module';
import { RoutesModule } from '../routes/routes.module';
import { UpgradesModule } from '../upgrades/upgrades.module';
import { UsersModule } from '../users/users.module';
import { ApplyService } from './apply.service';
import { ApplyController } from './apply.controller';

/** Applying a gearshift.yml. */
@Module({
  imports: [AppsModule, CartridgesModule, ChangesModule, DomainsModule, FleetModule, LifecycleModule, RoutesModule, UpgradesModule, UsersModule],
  controllers: [ApplyController],
  providers: [ApplyService],
  exports: [ApplyService],
})
export class ApplyModule {}
