import { Body, Controller, Param, Post, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ApiBearerAuth, ApiBody, ApiQuery, ApiTags } from '@nestjs/swagger';
import { AcceptsBody } from '../common/body';
import { descriptorSchema } from '@gearshift/cartridges';
import { WaitPipe } from '../common/wait.pipe';
import { CurrentUser, NeedsScope } from '../users/auth.guard';
import type { User } from '../users/user.entity';
import { ApplyService } from './apply.service';

@ApiTags('apply')
@ApiBearerAuth()
@Controller('domains/:domain/apply')
export class ApplyController {
  constructor(private readonly applier: ApplyService) {}

  /**
   * The body is a gearshift.yml (text/yaml) or the same as JSON, or a compose file (its app named by `?name=`). A `deploy` token may apply: a push's gearshift.yml
   * is applied with the pusher's token, and shipping code includes shipping its descriptor.
   */
  @Post()
  @NeedsScope('deploy')
  @AcceptsBody({ yaml: 'api', json: 'api' })
  @ApiBody({ schema: descriptorSchema as object })
  @ApiQuery({ name: 'dryRun', required: false })
  @ApiQuery({ name: 'allowDataLoss', required: false })
  @ApiQuery({ name: 'wait', required: false })
  @ApiQuery({ name: 'file', required: false, description: 'the name of the file applied (compose.yaml ...), which what is said about it names' })
  @ApiQuery({ name: 'name', required: false, description: "the app's name: a compose file becomes it; a gearshift.yml naming another app is refused" })
  async apply(
    @Res({ passthrough: true }) res: Response,
    @CurrentUser() user: User,
    @Param('domain') domain: string,
    @Body() body: unknown,
    @Query('dryRun') dryRun?: string,
    @Query('allowDataLoss') allowDataLoss?: string,
    @Query('wait', WaitPipe) wait?: number,
    @Query('name') name?: string,
    @Query('file') file?: string,
  ) {
    const text = typeof body === 'string' ? body : JSON.stringify(body ?? {});
    const result = await this.applier.apply(user, domain, text, { dryRun: dryRun === 'true', allowDataLoss: allowDataLoss === 'true', wait, name, file });
    // 202 when an operation started; 200 for a plan or an app that already is what the file says.
    res.status('operation' in result && result.operation ? 202 : 200);
    return result;
  }
}
