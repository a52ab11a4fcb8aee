import { Module } from '@nestjs/common';
import { AppsModule } from '../apps/apps.module';
import { FleetModule } from '../fleet/fleet.module';
import { OperationsModule } from '../operations/operations.module';
import { RoutesModule } from '../routes/routes.module';
import { UsersModule } from '../users/users.module';
import { ChangeRunner } from './change-runner';

/** How a change to an app runs as one operation. */
@Module({
  imports: [AppsModule, FleetModule, OperationsModule, RoutesModule, UsersModule],
  providers: [ChangeRunner],
  exports: [ChangeRunner],
})
export class ChangesModule {}
