import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { NodesService } from './nodes/nodes.service';
import { OperationsService } from './operations/operations.service';
import { ScalingService } from './scaling/scaling.service';
import { QueueService } from './queue/queue.service';

/** Wires every job name of the broker queue to its one handler. */
@Injectable()
export class BrokerJobs implements OnApplicationBootstrap {
  constructor(
    private readonly queue: QueueService,
    private readonly nodes: NodesService,
    private readonly operations: OperationsService,
    private readonly scaling: ScalingService,
  ) {}

  onApplicationBootstrap(): void {
    this.queue.consume({
      'node.heartbeat': (data) => this.nodes.handleHeartbeat(data),
      'operation.report': (data) => this.operations.handleReport(data),
      'app.wake': (data) => this.scaling.wake(data.appId, data.host),
    });
  }
}
