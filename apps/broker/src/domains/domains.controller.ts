import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { AcceptsBody } from '../common/body';
import { ApiBearerAuth, ApiBody, ApiTags } from '@nestjs/swagger';
import { NAME_PATTERN } from '@gearshift/cartridges';
import { SchemaPipe } from '../common/schema.pipe';
import { CurrentUser } from '../users/auth.guard';
import type { User } from '../users/user.entity';
import { DomainsService } from './domains.service';

const createDomainSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: { type: 'string', pattern: NAME_PATTERN }, team: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;

@ApiTags('domains')
@ApiBearerAuth()
@Controller('domains')
export class DomainsController {
  constructor(private readonly domains: DomainsService) {}

  /** Domains of the caller's teams. */
  @Get()
  list(@CurrentUser() user: User) {
    return this.domains.list(user);
  }

  /** A domain in a team the caller owns or develops in (default: the caller's personal team). */
  @Post()
  @AcceptsBody({ json: 'api' })
  @ApiBody({ schema: createDomainSchema as object })
  create(@CurrentUser() user: User, @Body(new SchemaPipe(createDomainSchema)) body: { name: string; team?: string }) {
    return this.domains.create(user, body.name, body.team);
  }

  @Get(':domain')
  get(@CurrentUser() user: User, @Param('domain') name: string) {
    return this.domains.get(user, name);
  }

  /** Deletes an empty domain (owners of its team only). */
  @Delete(':domain')
  @HttpCode(204)
  delete(@CurrentUser() user: User, @Param('domain') name: string) {
    return this.domains.delete(user, name);
  }
}
