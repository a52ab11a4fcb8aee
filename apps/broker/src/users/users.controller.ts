import { Body, Controller, Delete, HttpCode, Ip, Param, Patch, Post, Put } from '@nestjs/common';
import { AcceptsBody } from '../common/body';
import { ApiBearerAuth, ApiBody, ApiTags } from '@nestjs/swagger';
import { SchemaPipe } from '../common/schema.pipe';
import { AccountsService } from './accounts.service';
import type { Session } from './auth.service';
import { CurrentSession, CurrentUser } from './auth.guard';
import type { User } from './user.entity';

// Lengths of new passwords are checked by AccountsService, after the caller's right to set them.
const password = { type: 'string', minLength: 1, maxLength: 256 } as const;

const createUserSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['username', 'password'],
  properties: { username: { type: 'string', pattern: '^[a-z][a-z0-9._-]{1,63}$' }, password, admin: { type: 'boolean' } },
} as const;

const updateUserSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: { disabled: { type: 'boolean' }, password },
} as const;

const changePasswordSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['current', 'password'],
  properties: { current: password, password },
} as const;

@ApiTags('users')
@ApiBearerAuth()
@Controller('users')
export class UsersController {
  constructor(private readonly accounts: AccountsService) {}

  @Post()
  @AcceptsBody({ json: 'api' })
  @ApiBody({ schema: createUserSchema as object })
  create(@CurrentUser() user: User, @Body(new SchemaPipe(createUserSchema)) body: { username: string; password: string; admin?: boolean }) {
    return this.accounts.create(user, body);
  }

  // Declared before :username so that "me" is never taken for a user name.
  @Put('me/password')
  @HttpCode(204)
  @AcceptsBody({ json: 'api' })
  @ApiBody({ schema: changePasswordSchema as object })
  async changePassword(
    @CurrentSession() session: Session,
    @Body(new SchemaPipe(changePasswordSchema)) body: { current: string; password: string },
    @Ip() address: string,
  ) {
    await this.accounts.changeOwnPassword(session, body, address);
  }

  @Patch(':username')
  @AcceptsBody({ json: 'api' })
  @ApiBody({ schema: updateUserSchema as object })
  update(
    @CurrentUser() user: User,
    @Param('username') username: string,
    @Body(new SchemaPipe(updateUserSchema)) body: { disabled?: boolean; password?: string },
  ) {
    return this.accounts.update(user, username, body);
  }

  @Delete(':username')
  @HttpCode(204)
  async delete(@CurrentUser() user: User, @Param('username') username: string): Promise<void> {
    await this.accounts.delete(user, username);
  }
}
