import { Controller, Get, Req, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { UnitOfWork } from '../database/unit-of-work';
import { Leadership } from '../leadership/leadership.service';
import { NodesService } from '../nodes/nodes.service';
import { QueueService } from '../queue/queue.service';
import { AuthService } from '../users/auth.service';
import { Public } from '../users/auth.guard';
import { healthAnswer } from './health-answer';
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
    private readonly auth: AuthService,
  ) {}

  /**
   * Up or not, for the broker and what it depends on; 503 when Postgres or Redis is down. The version says which code
   * answers. With an administrator's token: `brokers`, every broker connected to the database (the one that runs the
   * loops marked `leader`), and the nodes by name; without, only counts (see healthAnswer).
   */
  @Public()
  @Get('healthz')
  async health(@Req() req: Request, @Res({ passthrough: true }) res: Response) {
    const [{ postgres, redis }, admin] = await Promise.all([this.dependencies(), this.isAdmin(req.headers.authorization)]);
    const nodes = postgres ? (await this.nodes.summary()).map((n) => ({ name: n.name, ready: n.ready, state: n.state })) : [];
    const brokers = postgres ? await this.leadership.brokers().catch(() => []) : [];
    res.status(postgres && redis ? 200 : 503);
    return healthAnswer({ postgres, redis, nodes, version: brokerVersion(), brokerId: this.leadership.id, leader: this.leadership.isLeader(), brokers }, admin);
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

  /** Whether the call came with a live token of an administrator; a missing or bad token is simply a stranger's call. */
  private async isAdmin(authorization: string | undefined): Promise<boolean> {
    if (!authorization) return false;
    return this.auth.authenticate(authorization).then(
      (session) => session.user.isAdmin && !session.user.disabled,
      () => false,
    );
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
