import { Module } from '@nestjs/common';
import { NodesModule } from '../nodes/nodes.module';
import { QueueModule } from '../queue/queue.module';
import { UsersModule } from '../users/users.module';
import { HealthController } from './health.controller';

/** The broker's own health. */
@Module({
  imports: [NodesModule, QueueModule, UsersModule],
  controllers: [HealthController],
})
export class HealthModule {}
