import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { AcceptsBody } from '../common/body';
import { ApiBearerAuth, ApiBody, ApiTags } from '@nestjs/swagger';
import { SchemaPipe } from '../common/schema.pipe';
import { CurrentUser, Public } from '../users/auth.guard';
import type { User } from '../users/user.entity';
import { NodesService } from './nodes.service';

const tokenSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { ttlHours: { type: 'integer', minimum: 1, maximum: 24 * 365 } },
} as const;

const registerSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['token', 'name', 'memoryMb', 'maxGears'],
  properties: {
    token: { type: 'string', minLength: 1, maxLength: 200 },
    name: { type: 'string', pattern: '^[a-z0-9][a-z0-9.-]{0,62}$' },
    memoryMb: { type: 'integer', minimum: 64 },
    maxGears: { type: 'integer', minimum: 1, maximum: 10000 },
    /** The job contract version the agent speaks; absent from agents older than versioned contracts. */
    contractVersion: { type: 'integer', minimum: 0 },
  },
} as const;

@ApiTags('nodes')
@ApiBearerAuth()
@Controller('nodes')
export class NodesController {
  constructor(private readonly nodes: NodesService) {}

  @Get()
  list(@CurrentUser() user: User) {
    return this.nodes.list(user);
  }

  @Post('tokens')
  @AcceptsBody({ json: 'api' })
  @ApiBody({ schema: tokenSchema as object })
  createToken(@CurrentUser() user: User, @Body(new SchemaPipe(tokenSchema)) body: { ttlHours?: number }) {
    return this.nodes.createJoinToken(user, body.ttlHours ?? 24);
  }

  /** Called by a node agent with a join token, not by people. */
  @Public()
  @Post('register')
  @HttpCode(200)
  @AcceptsBody({ json: 'public' })
  @ApiBody({ schema: registerSchema as object })
  register(@Body(new SchemaPipe(registerSchema)) body: { token: string; name: string; memoryMb: number; maxGears: number; contractVersion?: number }) {
    return this.nodes.register(body);
  }

  @Post(':id/drain')
  @HttpCode(200)
  drain(@CurrentUser() user: User, @Param('id') id: string) {
    return this.nodes.drain(user, id);
  }

  @Delete(':id')
  @HttpCode(204)
  remove(@CurrentUser() user: User, @Param('id') id: string) {
    return this.nodes.remove(user, id);
  }
}
