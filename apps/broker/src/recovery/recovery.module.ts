import { Module } from '@nestjs/common';
import { AppsModule } from '../apps/apps.module';
import { CartridgesModule } from '../cartridges/cartridges.module';
import { ChangesModule } from '../changes/changes.module';
import { FleetModule } from '../fleet/fleet.module';
import { OperationsModule } from '../operations/operations.module';
import { QueueModule } from '../queue/queue.module';
import { RoutesModule } from '../routes/routes.module';
import { SnapshotsModule } from '../snapshots/snapshots.module';
import { UsersModule } from '../users/users.module';
import { NodeLossService } from './node-loss.service';
import { RecoveryController } from './recovery.controller';
import { RecoveryService } from './recovery.service';

/** Losing a node: the heartbeat watchdog, moving gears off lost nodes, and recovering an app's data elsewhere. */
@Module({
  imports: [AppsModule, CartridgesModule, ChangesModule, FleetModule, OperationsModule, QueueModule, RoutesModule, SnapshotsModule, UsersModule],
  controllers: [RecoveryController],
  providers: [NodeLossService, RecoveryService],
  exports: [NodeLossService],
})
export class RecoveryModule {}
