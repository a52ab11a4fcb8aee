import { Controller, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiQuery, ApiTags } from '@nestjs/swagger';
import { WaitPipe } from '../common/wait.pipe';
import { CurrentUser } from '../users/auth.guard';
import type { User } from '../users/user.entity';
import { RecoveryService } from './recovery.service';

@ApiTags('apps')
@ApiBearerAuth()
@Controller('domains/:domain/apps')
export class RecoveryController {
  constructor(private readonly recovery: RecoveryService) {}

  /** Moves the app's data gears off a lost node and restores the latest snapshot the broker keeps of it there. */
  @Post(':app/recover')
  @HttpCode(200)
  @ApiQuery({ name: 'wait', required: false, description: 'seconds to wait for the move and the restore (0-600; default 600)' })
  recover(@CurrentUser() user: User, @Param('domain') domain: string, @Param('app') app: string, @Query('wait', WaitPipe) w?: number) {
    return this.recovery.recover(user, domain, app, w);
  }
}
