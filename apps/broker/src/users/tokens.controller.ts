import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { AcceptsBody } from '../common/body';
import { ApiBearerAuth, ApiBody, ApiTags } from '@nestjs/swagger';
import { SchemaPipe } from '../common/schema.pipe';
import { CurrentUser } from './auth.guard';
import { SCOPES, type Scope } from './scopes';
import { TokensService } from './tokens.service';
import type { User } from './user.entity';

const createTokenSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'scopes'],
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$' },
    scopes: { type: 'array', minItems: 1, maxItems: SCOPES.length, items: { type: 'string', enum: [...SCOPES] } },
    expiresInDays: { type: 'integer', minimum: 1, maximum: 366 },
  },
} as const;

/** The caller's personal access tokens. */
@ApiTags('tokens')
@ApiBearerAuth()
@Controller('tokens')
export class TokensController {
  constructor(private readonly tokens: TokensService) {}

  @Get()
  list(@CurrentUser() user: User) {
    return this.tokens.list(user);
  }

  @Post()
  @AcceptsBody({ json: 'api' })
  @ApiBody({ schema: createTokenSchema as object })
  create(@CurrentUser() user: User, @Body(new SchemaPipe(createTokenSchema)) body: { name: string; scopes: Scope[]; expiresInDays?: number }) {
    return this.tokens.create(user, body);
  }

  @Delete(':id')
  @HttpCode(204)
  async revoke(@CurrentUser() user: User, @Param('id') id: string): Promise<void> {
    await this.tokens.revoke(user, id);
  }
}
