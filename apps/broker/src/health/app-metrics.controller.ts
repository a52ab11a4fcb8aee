import { Controller, Get, Header, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiQuery, ApiTags } from '@nestjs/swagger';
import { CurrentUser } from '../users/auth.guard';
import type { User } from '../users/user.entity';
import { AppMetricsService } from './app-metrics.service';

@ApiTags('apps')
@ApiBearerAuth()
@Controller('domains/:domain/apps/:app/metrics')
export class AppMetricsController {
  constructor(private readonly metrics: AppMetricsService) {}

  /**
   * The app's last minutes at the history's step: requests per second, response time (ms) and error rate (the share
   * of requests answered 5xx, 0 to 1) from its routers, and each gear's CPU (percent of one core) and memory (bytes).
   */
  @Get()
  @Header('cache-control', 'no-store')
  @ApiQuery({ name: 'minutes', required: false, description: 'how far back, 1 to 60 (default 60)' })
  recent(@CurrentUser() user: User, @Param('domain') domain: string, @Param('app') app: string, @Query('minutes') minutes?: string) {
    return this.metrics.recent(user, domain, app, minutes);
  }
}
