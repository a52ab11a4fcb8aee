import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiQuery, ApiTags } from '@nestjs/swagger';
import { CurrentUser, NeedsScope } from '../users/auth.guard';
import type { User } from '../users/user.entity';
import { AuditService } from './audit.service';
import { MAX_LIMIT } from './query';

@ApiTags('audit')
@ApiBearerAuth()
@Controller('audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  /** Who changed what, when, from where and how it ended, newest first: an administrator's all, else one's own and one's domains'. */
  @Get()
  @NeedsScope('read')
  @ApiQuery({ name: 'since', required: false, description: 'an ISO date and time, or a time ago: 30m, 1h, 7d' })
  @ApiQuery({ name: 'until', required: false, description: 'an ISO date and time, or a time ago: 30m, 1h, 7d' })
  @ApiQuery({ name: 'user', required: false, description: 'events by this user name' })
  @ApiQuery({ name: 'domain', required: false, description: 'events on this domain' })
  @ApiQuery({ name: 'action', required: false, description: 'an action (app.scale) or a family of them (app)' })
  @ApiQuery({ name: 'limit', required: false, description: `at most this many events (1-${MAX_LIMIT}, default 100)` })
  list(@CurrentUser() user: User, @Query() query: Record<string, unknown>) {
    return this.audit.list(user, query);
  }
}
