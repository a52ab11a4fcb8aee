import { Module } from '@nestjs/common';
import { AppsModule } from '../apps/apps.module';
import { CartridgesModule } from '../cartridges/cartridges.module';
import { ChangesModule } from '../changes/changes.module';
import { OperationsModule } from '../operations/operations.module';
import { UsersModule } from '../users/users.module';
import { SnapshotsService } from './snapshots.service';
import { SnapshotsController } from './snapshots.controller';

/** Snapshots of an app's data, taken and restored. */
@Module({
  imports: [AppsModule, CartridgesModule, ChangesModule, OperationsModule, UsersModule],
  controllers: [SnapshotsController],
  providers: [SnapshotsService],
  exports: [SnapshotsService],
})
export class SnapshotsModule {}
