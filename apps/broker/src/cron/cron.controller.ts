import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CurrentUser } from '../users/auth.guard';
import type { User } from '../users/user.entity';
import { CronService } from './cron.service';

@ApiTags('cron')
@ApiBearerAuth()
@Controller('domains/:domain/apps/:app/cron')
export class CronController {
  constructor(private readonly cron: CronService) {}

  /** The cron entries of the release the app serves, each with its next time and its newest runs (output, exit code). */
  @Get()
  list(@CurrentUser() user: User, @Param('domain') domain: string, @Param('app') app: string) {
    return this.cron.list(user, domain, app);
  }
}
