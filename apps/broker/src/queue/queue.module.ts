import { Module } from '@nestjs/common';
import { NodeRelay } from './node-relay';
import { QueueService } from './queue.service';

/** The job queues to the nodes and back, and the relay of what nodes stream for a request. */
@Module({
  providers: [QueueService, NodeRelay],
  exports: [QueueService, NodeRelay],
})
export class QueueModule {}
