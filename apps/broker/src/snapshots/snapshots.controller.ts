import { Body, Controller, HttpCode, Param, Post, Put, Get, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiQuery, ApiTags } from '@nestjs/swagger';
import { AcceptsBody } from '../common/body';
import type { Request, Response } from 'express';
import { invalid } from '../common/errors';
import { WaitPipe } from '../common/wait.pipe';
import { CurrentUser, Public } from '../users/auth.guard';
import type { User } from '../users/user.entity';
import { SnapshotsService } from './snapshots.service';

@ApiTags('snapshots')
@ApiBearerAuth()
@Controller()
export class SnapshotsController {
  constructor(private readonly snapshots: SnapshotsService) {}

  /** Answers with the snapshot itself: a .tar.gz of the app's data, once the node has taken it. */
  @Post('domains/:domain/apps/:app/snapshots')
  @HttpCode(200)
  async take(@CurrentUser() user: User, @Param('domain') domain: string, @Param('app') app: string, @Res() res: Response) {
    await this.snapshots.take(user, domain, app, res);
  }

  @Post('domains/:domain/apps/:app/snapshots/restore')
  @HttpCode(202)
  @AcceptsBody({ archive: 'upload' })
  @ApiBody({ description: 'a snapshot .tar.gz, as POST .../snapshots answered it', schema: { type: 'string', format: 'binary' } })
  @ApiQuery({ name: 'wait', required: false })
  restore(@CurrentUser() user: User, @Param('domain') domain: string, @Param('app') app: string, @Body() body: unknown, @Query('wait', WaitPipe) w?: number) {
    if (!Buffer.isBuffer(body)) throw invalid('/', 'snapshot', 'must be a snapshot .tar.gz (Content-Type: application/gzip)');
    return this.snapshots.restore(user, domain, app, body, w);
  }

  /** The node's upload of a snapshot it took. */
  @Public()
  @Put('snapshots/:op')
  @HttpCode(204)
  async receive(@Param('op') op: string, @Query('token') token: string | undefined, @Req() req: Request) {
    await this.snapshots.receive(op, token ?? '', req);
  }

  /** The node's download of a snapshot to restore. */
  @Public()
  @Get('snapshots/restore/:token')
  source(@Param('token') token: string, @Res() res: Response) {
    const stream = this.snapshots.restoreSource(token);
    res.setHeader('content-type', 'application/gzip');
    stream.pipe(res);
  }
}
