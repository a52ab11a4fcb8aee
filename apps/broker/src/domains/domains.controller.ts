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
  properties: { name: { type: 'string', pattern: NAME_PATTERN } },
} as const;

@ApiTags('domains')
@ApiBearerAuth()
@Controller('domains')
export class DomainsController {
  constructor(private readonly domains: DomainsService) {}

  @Get()
  list(@CurrentUser() user: User) {
    return this.domains.list(user);
  }

  @Post()
  @AcceptsBody({ json: 'api' })
  @ApiBody({ schema: createDomainSchema as object })
  create(@CurrentUser() user: User, @Body(new SchemaPipe(createDomainSchema)) body: { name: string }) {
    return this.domains.create(user, body.name);
  }

  @Get(':domain')
  get(@CurrentUser() user: User, @Param('domain') name: string) {
    return this.domains.get(user, name);
  }

  @Delete(':domain')
  @HttpCode(204)
  delete(@CurrentUser() user: User, @Param('domain') name: string) {
    return this.domains.delete(user, name);
  }
}
