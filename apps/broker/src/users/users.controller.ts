import { Body, Controller, Post } from '@nestjs/common';
import { AcceptsBody } from '../common/body';
import { ApiBearerAuth, ApiBody, ApiTags } from '@nestjs/swagger';
import { SchemaPipe } from '../common/schema.pipe';
import { AuthService } from './auth.service';
import { CurrentUser } from './auth.guard';
import type { User } from './user.entity';

const createUserSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['username', 'password'],
  properties: {
    username: { type: 'string', pattern: '^[a-z][a-z0-9._-]{1,63}$' },
    password: { type: 'string', minLength: 8, maxLength: 256 },
    admin: { type: 'boolean' },
  },
} as const;

@ApiTags('users')
@ApiBearerAuth()
@Controller('users')
export class UsersController {
  constructor(private readonly auth: AuthService) {}

  @Post()
  @AcceptsBody({ json: 'api' })
  @ApiBody({ schema: createUserSchema as object })
  create(@CurrentUser() user: User, @Body(new SchemaPipe(createUserSchema)) body: { username: string; password: string; admin?: boolean }) {
    return this.auth.createUser(user, body);
  }
}
