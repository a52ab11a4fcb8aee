import { Controller, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiQuery, ApiTags } from '@nestjs/swagger';
import { WaitPipe } from '../common/wait.pipe';
import { CurrentUser } from '../users/auth.guard';
import type { User } from '../users/user.entity';
import { NodeDrainService } from './node-drain.service';

/** Draining a node moves apps' gears: it lives beside the apps' lifecycle, under the nodes' path. */
@ApiTags('nodes')
@ApiBearerAuth()
@Controller('nodes')
export class NodeDrainController {
  constructor(private readonly drains: NodeDrainService) {}

  /** The node takes no new gears and its gears move off it; answers 202 with the drain's operation. */
  @Post(':id/drain')
  @HttpCode(202)
  @ApiQuery({ name: 'wait', required: false, description: 'seconds to wait for the drain to end (0-600)' })
  drain(@CurrentUser() user: User, @Param('id') id: string, @Query('wait', WaitPipe) wait?: number) {
    return this.drains.drain(user, id, wait);
  }
}
