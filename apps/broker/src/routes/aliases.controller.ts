import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { AcceptsBody } from '../common/body';
import { ApiBearerAuth, ApiBody, ApiTags } from '@nestjs/swagger';
import { SchemaPipe } from '../common/schema.pipe';
import { CurrentUser } from '../users/auth.guard';
import type { User } from '../users/user.entity';
import { AliasesService, type AliasBody } from './aliases.service';

const aliasSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['host'],
  properties: {
    host: {
      type: 'string',
      // A DNS name, checked by the aliases service so that an address or a reserved name gets its own rule.
      minLength: 1,
      maxLength: 253,
    },
    certificate: { type: 'string', maxLength: 65536 },
    key: { type: 'string', maxLength: 65536 },
  },
} as const;

@ApiTags('aliases')
@ApiBearerAuth()
@Controller('domains/:domain/apps/:app/aliases')
export class AliasesController {
  constructor(private readonly aliases: AliasesService) {}

  @Get()
  list(@CurrentUser() user: User, @Param('domain') domain: string, @Param('app') app: string) {
    return this.aliases.list(user, domain, app);
  }

  @Post()
  @AcceptsBody({ json: 'api' })
  @ApiBody({ schema: aliasSchema as object })
  add(@CurrentUser() user: User, @Param('domain') domain: string, @Param('app') app: string, @Body(new SchemaPipe(aliasSchema)) body: AliasBody) {
    return this.aliases.add(user, domain, app, body);
  }

  @Delete(':host')
  @HttpCode(204)
  remove(@CurrentUser() user: User, @Param('domain') domain: string, @Param('app') app: string, @Param('host') host: string) {
    return this.aliases.remove(user, domain, app, host);
  }
}
