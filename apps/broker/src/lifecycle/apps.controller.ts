import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Query, Res } from '@nestjs/common';
import { AcceptsBody } from '../common/body';
import type { Response } from 'express';
import { invalid } from '../common/errors';
import { PROCESS_TYPE, SERVICE_NAME } from '@gearshift/cartridges';
import { LogsService } from './logs.service';
import { execSchema, RunService, runSchema, type ExecBody, type RunBody } from './run.service';
import { ApiBearerAuth, ApiBody, ApiQuery, ApiTags } from '@nestjs/swagger';
import { SchemaPipe } from '../common/schema.pipe';
import { WaitPipe } from '../common/wait.pipe';
import { FlagPipe } from '../common/flag.pipe';
import { CurrentUser } from '../users/auth.guard';
import type { User } from '../users/user.entity';
import type { AppSecurityOverride } from '../apps/app.entity';
import { AppsService } from './apps.service';
import {
  actionSchema,
  addCartridgeSchema,
  createAppSchema,
  envPatchSchema,
  patchAppSchema,
  scaleSchema,
  securitySchema,
  type AppAction,
  type PatchAppBody,
  type CreateAppBody,
  type ScaleBody,
} from './apps.dto';

const wait = () => ApiQuery({ name: 'wait', required: false, description: 'seconds to wait for the operation to end (0-600)' });

@ApiTags('apps')
@ApiBearerAuth()
@Controller('domains/:domain/apps')
export class AppsController {
  constructor(
    private readonly apps: AppsService,
    private readonly logs: LogsService,
    private readonly runs: RunService,
  ) {}

  /**
   * A one-off command in a new container of the release the app serves: its output as lines of JSON while it runs
   * (`{"line", "stream"}`), then `{"exitCode"}` (or `{"error"}` when it could not run). 409 before the first release.
   */
  @Post(':app/run')
  @HttpCode(200)
  @AcceptsBody({ json: 'api' })
  @ApiBody({ schema: runSchema as object })
  async run(
    @CurrentUser() user: User,
    @Param('domain') domain: string,
    @Param('app') app: string,
    @Body(new SchemaPipe(runSchema)) body: RunBody,
    @Res() res: Response,
  ) {
    await this.runs.run(user, domain, app, body, res);
  }

  /**
   * A command in a running gear of the app (the one named by `gear`, an id or its start; else a web gear): its
   * output and exit code as for `run`. With a terminal: the WebSocket of the same path.
   */
  @Post(':app/exec')
  @HttpCode(200)
  @AcceptsBody({ json: 'api' })
  @ApiBody({ schema: execSchema as object })
  async exec(
    @CurrentUser() user: User,
    @Param('domain') domain: string,
    @Param('app') app: string,
    @Body(new SchemaPipe(execSchema)) body: ExecBody,
    @Res() res: Response,
  ) {
    await this.runs.exec(user, domain, app, body, res);
  }

  /** Output of every gear, each line tagged with its cartridge and gear; with follow=true, streamed as it comes. */
  @Get(':app/logs')
  @ApiQuery({ name: 'tail', required: false, description: 'lines of each gear to start with (default 100, at most 10000)' })
  @ApiQuery({ name: 'follow', required: false, description: 'true: keep streaming new lines' })
  @ApiQuery({ name: 'process', required: false, description: 'only the gears of one Procfile process type (web, worker, …)' })
  @ApiQuery({ name: 'service', required: false, description: 'only the gears of one named service of the app' })
  async appLogs(
    @CurrentUser() user: User,
    @Param('domain') domain: string,
    @Param('app') app: string,
    @Query('tail') tail: string | undefined,
    @Query('follow') follow: string | undefined,
    @Query('process') processType: string | undefined,
    @Query('service') service: string | undefined,
    @Res() res: Response,
  ) {
    if (processType !== undefined && !PROCESS_TYPE.test(processType))
      throw invalid('/process', 'pattern', 'must be a Procfile process type (letters, digits, _ and -)');
    if (service !== undefined && !new RegExp(SERVICE_NAME).test(service))
      throw invalid('/service', 'pattern', 'must be the name of a service of the app (lower-case letters, digits and -)');
    const lines = tail === undefined ? 100 : Number(tail);
    if (!Number.isInteger(lines) || lines < 0 || lines > 10000) throw invalid('/tail', 'range', 'must be a whole number from 0 to 10000');
    await this.logs.stream(user, domain, app, { tail: lines, follow: ['1', 'true', 'yes'].includes(follow ?? ''), process: processType, service }, res);
  }

  @Get()
  list(@CurrentUser() user: User, @Param('domain') domain: string) {
    return this.apps.list(user, domain);
  }

  @Post()
  @HttpCode(202)
  @AcceptsBody({ json: 'api' })
  @ApiBody({ schema: createAppSchema as object })
  @wait()
  create(
    @CurrentUser() user: User,
    @Param('domain') domain: string,
    @Body(new SchemaPipe(createAppSchema)) body: CreateAppBody,
    @Query('wait', WaitPipe) w?: number,
  ) {
    return this.apps.create(user, domain, body, w);
  }

  @Get(':app')
  get(@CurrentUser() user: User, @Param('domain') domain: string, @Param('app') app: string) {
    return this.apps.get(user, domain, app);
  }

  /** Settings; a new health check reaches the running release's gears through an operation (then 202). */
  @Patch(':app')
  @AcceptsBody({ json: 'api' })
  @ApiBody({ schema: patchAppSchema as object })
  @wait()
  async patch(
    @CurrentUser() user: User,
    @Param('domain') domain: string,
    @Param('app') app: string,
    @Body(new SchemaPipe(patchAppSchema)) body: PatchAppBody,
    @Res({ passthrough: true }) res: Response,
    @Query('wait', WaitPipe) w?: number,
  ) {
    const result = await this.apps.patch(user, domain, app, body, w);
    if ('operation' in result && result.operation) res.status(202);
    return result;
  }

  @Delete(':app')
  @HttpCode(202)
  @wait()
  delete(@CurrentUser() user: User, @Param('domain') domain: string, @Param('app') app: string, @Query('wait', WaitPipe) w?: number) {
    return this.apps.delete(user, domain, app, w);
  }

  @Post(':app/actions')
  @HttpCode(202)
  @AcceptsBody({ json: 'api' })
  @ApiBody({ schema: actionSchema as object })
  @wait()
  action(
    @CurrentUser() user: User,
    @Param('domain') domain: string,
    @Param('app') app: string,
    @Body(new SchemaPipe(actionSchema)) body: { action: AppAction },
    @Query('wait', WaitPipe) w?: number,
  ) {
    return this.apps.action(user, domain, app, body.action, w);
  }

  @Post(':app/cartridges')
  @HttpCode(202)
  @AcceptsBody({ json: 'api' })
  @ApiBody({ schema: addCartridgeSchema as object })
  @wait()
  addCartridge(
    @CurrentUser() user: User,
    @Param('domain') domain: string,
    @Param('app') app: string,
    @Body(new SchemaPipe(addCartridgeSchema)) body: { cartridge: string },
    @Query('wait', WaitPipe) w?: number,
  ) {
    return this.apps.addCartridge(user, domain, app, body.cartridge, w);
  }

  @Delete(':app/cartridges/:cartridge')
  @HttpCode(202)
  @wait()
  removeCartridge(
    @CurrentUser() user: User,
    @Param('domain') domain: string,
    @Param('app') app: string,
    @Param('cartridge') cartridge: string,
    @Query('wait', WaitPipe) w?: number,
  ) {
    return this.apps.removeCartridge(user, domain, app, cartridge, w);
  }

  /** The user's variables, and what the app's services publish to it; their secret values only when revealed. */
  @Get(':app/env')
  @ApiQuery({
    name: 'reveal',
    required: false,
    type: Boolean,
    description: 'true: show the values of secret published variables (generated passwords, URLs with credentials) instead of a mask',
  })
  env(@CurrentUser() user: User, @Param('domain') domain: string, @Param('app') app: string, @Query('reveal', new FlagPipe('reveal')) reveal: boolean) {
    return this.apps.env(user, domain, app, reveal);
  }

  @Patch(':app/env')
  @HttpCode(202)
  @AcceptsBody({ json: 'api' })
  @ApiBody({ schema: envPatchSchema as object })
  @wait()
  patchEnv(
    @CurrentUser() user: User,
    @Param('domain') domain: string,
    @Param('app') app: string,
    @Body(new SchemaPipe(envPatchSchema)) body: Record<string, string | null>,
    @Query('wait', WaitPipe) w?: number,
  ) {
    return this.apps.patchEnv(user, domain, app, body, w);
  }

  @Delete(':app/env/:name')
  @HttpCode(202)
  @wait()
  unsetEnv(
    @CurrentUser() user: User,
    @Param('domain') domain: string,
    @Param('app') app: string,
    @Param('name') name: string,
    @Query('wait', WaitPipe) w?: number,
  ) {
    return this.apps.unsetEnv(user, domain, app, name, w);
  }

  @Put(':app/security')
  @HttpCode(202)
  @AcceptsBody({ json: 'api' })
  @ApiBody({ schema: securitySchema as object })
  @wait()
  setSecurity(
    @CurrentUser() user: User,
    @Param('domain') domain: string,
    @Param('app') app: string,
    @Body(new SchemaPipe(securitySchema)) body: AppSecurityOverride,
    @Query('wait', WaitPipe) w?: number,
  ) {
    return this.apps.setSecurity(user, domain, app, body, w);
  }

  @Put(':app/scale')
  @HttpCode(202)
  @AcceptsBody({ json: 'api' })
  @ApiBody({ schema: scaleSchema as object })
  @wait()
  scale(
    @CurrentUser() user: User,
    @Param('domain') domain: string,
    @Param('app') app: string,
    @Body(new SchemaPipe(scaleSchema)) body: ScaleBody,
    @Query('wait', WaitPipe) w?: number,
  ) {
    return this.apps.scale(user, domain, app, body, w);
  }

  @Get(':app/operations')
  operations(@CurrentUser() user: User, @Param('domain') domain: string, @Param('app') app: string) {
    return this.apps.operationsOf(user, domain, app);
  }

  @Get(':app/gears')
  gears(@CurrentUser() user: User, @Param('domain') domain: string, @Param('app') app: string) {
    return this.apps.gears(user, domain, app);
  }
}
