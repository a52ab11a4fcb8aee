import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiQuery, ApiTags } from '@nestjs/swagger';
import { AcceptsBody } from '../common/body';
import type { Response } from 'express';
import { SchemaPipe } from '../common/schema.pipe';
import { invalid } from '../common/errors';
import { WaitPipe } from '../common/wait.pipe';
import { CurrentUser, NeedsScope, Public } from '../users/auth.guard';
import type { User } from '../users/user.entity';
import { DeploymentsService } from './deployments.service';
import { DeploymentSources, type SourceUpload } from './sources';

/** A deployment from a git repository (the body's other form is a .tar.gz of the source tree). */
export const gitSourceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['git'],
  properties: {
    git: {
      type: 'object',
      additionalProperties: false,
      required: ['url'],
      properties: {
        // http(s) and git's own protocol only: the broker checks the scheme and where the URL connects to
        // (fetch-guard.ts), refusing any other scheme as every URL a fetch may not use (422).
        url: { type: 'string', minLength: 1, maxLength: 2000 },
        ref: { type: 'string', pattern: '^[A-Za-z0-9._/][A-Za-z0-9._/-]*$', maxLength: 200 },
      },
    },
  },
} as const;

const gitSource = new SchemaPipe<{ git: { url: string; ref?: string } }>(gitSourceSchema);

@ApiTags('deployments')
@ApiBearerAuth()
@Controller()
export class DeploymentsController {
  constructor(
    private readonly deployments: DeploymentsService,
    private readonly sources: DeploymentSources,
  ) {}

  @Post('domains/:domain/apps/:app/deployments')
  @NeedsScope('deploy')
  @HttpCode(202)
  @AcceptsBody({ archive: 'upload', json: 'api' })
  @ApiBody({ description: 'a .tar.gz of the source tree, or {git: {url, ref}}', schema: gitSourceSchema as object })
  @ApiQuery({ name: 'wait', required: false, description: 'seconds to wait for the deployment to end (0-600)' })
  async deploy(
    @CurrentUser() user: User,
    @Param('domain') domain: string,
    @Param('app') app: string,
    @Body() body: unknown,
    @Headers('x-gearshift-source') sourceKind?: string,
    @Headers('x-gearshift-commit') commit?: string,
    @Headers('x-gearshift-ref') ref?: string,
    @Query('wait', WaitPipe) w?: number,
  ) {
    let upload: SourceUpload;
    if (Buffer.isBuffer(body)) {
      upload = {
        archive: body,
        kind: sourceKind === 'git-push' ? 'git-push' : 'archive',
        commit: commit && /^[0-9a-f]{7,64}$/.test(commit) ? commit : undefined,
        ref: ref && /^[A-Za-z0-9._/-]{1,200}$/.test(ref) ? ref : undefined,
      };
    } else if (body && typeof body === 'object' && Object.keys(body).length > 0) {
      // Read and checked here, fetched only once the app is known to be the user's.
      const { git } = gitSource.transform(body);
      return this.deployments.deployFromGit(user, domain, app, git, w);
    } else {
      throw invalid('/', 'source', 'must be a .tar.gz of the source tree (Content-Type: application/gzip) or {"git": {"url", "ref"}}');
    }
    return this.deployments.deploy(user, domain, app, upload, w);
  }

  @Get('domains/:domain/apps/:app/deployments')
  list(@CurrentUser() user: User, @Param('domain') domain: string, @Param('app') app: string) {
    return this.deployments.list(user, domain, app);
  }

  @Get('domains/:domain/apps/:app/deployments/:ref')
  get(@CurrentUser() user: User, @Param('domain') domain: string, @Param('app') app: string, @Param('ref') ref: string) {
    return this.deployments.get(user, domain, app, ref);
  }

  @Post('domains/:domain/apps/:app/deployments/:ref/activate')
  @NeedsScope('deploy')
  @HttpCode(202)
  @ApiQuery({ name: 'wait', required: false })
  activate(
    @CurrentUser() user: User,
    @Param('domain') domain: string,
    @Param('app') app: string,
    @Param('ref') ref: string,
    @Query('wait', WaitPipe) w?: number,
  ) {
    return this.deployments.activate(user, domain, app, ref, w);
  }

  /** For the node that builds a release: the source archive, by the capability token in the job. */
  @Public()
  @Get('deployments/:id/source')
  async source(@Param('id') id: string, @Query('token') token: string | undefined, @Res() res: Response) {
    const stream = await this.sources.source(id, token ?? '');
    res.setHeader('content-type', 'application/gzip');
    stream.pipe(res);
  }
}
