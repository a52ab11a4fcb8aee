import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiQuery, ApiTags } from '@nestjs/swagger';
import { WaitPipe } from '../common/wait.pipe';
import { CurrentUser } from '../users/auth.guard';
import type { User } from '../users/user.entity';
import { OperationsService } from './operations.service';

@ApiTags('operations')
@ApiBearerAuth()
@Controller('operations')
export class OperationsController {
  constructor(private readonly operations: OperationsService) {}

  @Get(':id')
  @ApiQuery({ name: 'wait', required: false })
  get(@CurrentUser() user: User, @Param('id') id: string, @Query('wait', WaitPipe) w?: number) {
    return this.operations.get(user, id, w);
  }
}
