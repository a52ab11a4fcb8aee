import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppsModule } from '../apps/apps.module';
import { DomainsModule } from '../domains/domains.module';
import { QueueModule } from '../queue/queue.module';
import { RoutesModule } from '../routes/routes.module';
import { UsersModule } from '../users/users.module';
import { OperationsRepository } from './operations.repository';
import { OperationsService } from './operations.service';
import { OperationsController } from './operations.controller';
import { Operation } from './operation.entity';

/** Operations: dispatched to the nodes, finished by their reports. */
@Module({
  imports: [TypeOrmModule.forFeature([Operation]), AppsModule, DomainsModule, QueueModule, RoutesModule, UsersModule],
  controllers: [OperationsController],
  providers: [OperationsRepository, OperationsService],
  exports: [OperationsRepository, OperationsService],
})
export class OperationsModule {}
