import { Controller, Get, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { UnitOfWork } from '../database/unit-of-work';
import { Leadership } from '../leadership/leadership.service';
import { NodesService } from '../nodes/nodes.service';
import { QueueService } from '../queue/queue.service';
import { Public } from '../users/auth.guard';
import { brokerVersion } from './version';

/** How long a readiness check waits for Postgres or Redis before calling it down. */
const CHECK_MS = 2000;

@ApiTags('health')
@Controller()
export class HealthController {
  constructor(
    private readonly database: UnitOfWork,
    private readonly queue: QueueService,
    private readonly nodes: NodesService,
    private readonly leadership: Leadership,
  ) {}

  /**
   * Up or not, for the broker and what it depends on; 503 when Postgres or Redis is down. The version says which code
   * answers; `brokers`: every broker connected to the database, the one that runs the loops marked `leader`.
   */
  @Public()
  @Get('healthz')
  async health(@Res({ passthrough: true }) res: Response) {
    const { postgres, redis } = await this.dependencies();
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
      version: brokerVersion(),
      brokerId: this.leadership.id,
      leader: this.leadership.isLeader(),
      brokers,
    };
  }

  /** Liveness: the process answers. Nothing else is asked, so a supervisor restarts the broker only when it hangs. */
  @Public()
  @Get('livez')
  live() {
    return { status: 'live' };
  }

  /**
   * Readiness: the broker can do its work, Postgres and Redis both answering. 503 names the one that does not, so a
   * load balancer sends requests elsewhere until it is back.
   */
  @Public()
  @Get('readyz')
  async ready(@Res({ passthrough: true }) res: Response) {
    const { postgres, redis } = await this.dependencies();
    const down = [...(postgres ? [] : ['postgres']), ...(redis ? [] : ['redis'])];
    res.status(down.length === 0 ? 200 : 503);
    return {
      status: down.length === 0 ? 'ready' : 'unready',
      postgres: postgres ? 'up' : 'down',
      redis: redis ? 'up' : 'down',
      ...(down.length > 0
        ? { message: `${down.map((d) => (d === 'postgres' ? 'Postgres' : 'Redis')).join(' and ')} ${down.length > 1 ? 'do' : 'does'} not answer` }
        : {}),
    };
  }

  private async dependencies(): Promise<{ postgres: boolean; redis: boolean }> {
    const [postgres, redis] = await Promise.all([within(this.database.ping(), CHECK_MS), this.queue.ping(CHECK_MS)]);
    return { postgres, redis };
  }
}

/** `check`'s answer, or false once `ms` have passed. */
function within(check: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([check, new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]).finally(() => clearTimeout(timer));
}
