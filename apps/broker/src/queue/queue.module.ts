import { Module } from '@nestjs/common';
import { QueueService } from './queue.service';

/** The job queues to the nodes and back. */
@Module({
  providers: [QueueService],
  exports: [QueueService],
})
export class QueueModule {}
