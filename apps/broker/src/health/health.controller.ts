import { Controller, Get, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { UnitOfWork } from '../database/unit-of-work';
import { Leadership } from '../leadership/leadership.service';
import { NodesService } from '../nodes/nodes.service';
import { QueueService } from '../queue/queue.service';
import { Public } from '../users/auth.guard';

@ApiTags('health')
@Controller('healthz')
export class HealthController {
  constructor(
    private readonly database: UnitOfWork,
    private readonly queue: QueueService,
    private readonly nodes: NodesService,
    private readonly leadership: Leadership,
  ) {}

  /**
   * Up or not, for the broker and what it depends on; 503 when Postgres or Redis is down. `brokers`: every broker
   * connected to the database, the one that runs the loops marked `leader` (see Leadership).
   */
  @Public()
  @Get()
  async health(@Res({ passthrough: true }) res: Response) {
    const [postgres, redis] = await Promise.all([this.database.ping(), this.queue.ping()]);
    const nodes = postgres ? (await this.nodes.summary()).map((n) => ({ name: n.name, ready: n.ready, state: n.state })) : [];
    const brokers = postgres ? await this.leadership.brokers().catch(() => []) : [];
    const ok = postgres && redis;
    res.status(ok ? 200 : 503);
    return {
      status: ok ? 'ok' : 'degraded',
      broker: 'up',
      postgres: postgres ? 'up' : 'down',
      redis: redis ? 'up' : 'down',
      nodes,
      brokerId: this.leadership.id,
      leader: this.leadership.isLeader(),
      brokers,
    };
  }
}
