import { Module } from '@nestjs/common';
import { AppsModule } from '../apps/apps.module';
import { CartridgesModule } from '../cartridges/cartridges.module';
import { FleetModule } from '../fleet/fleet.module';
import { OperationsModule } from '../operations/operations.module';
import { QueueModule } from '../queue/queue.module';
import { RoutesModule } from '../routes/routes.module';
import { UsersModule } from '../users/users.module';
import { NodesService } from './nodes.service';
import { NodesController } from './nodes.controller';
import { NodeJoinService } from './node-join.service';
import { DiskHygieneService } from './disk-hygiene.service';

/** Joining (join tokens, node keys), heartbeats, draining and disk hygiene of nodes. */
@Module({
  imports: [AppsModule, CartridgesModule, FleetModule, OperationsModule, QueueModule, RoutesModule, UsersModule],
  controllers: [NodesController],
  providers: [NodesService, NodeJoinService, DiskHygieneService],
  exports: [NodesService],
})
export class NodesModule {}
