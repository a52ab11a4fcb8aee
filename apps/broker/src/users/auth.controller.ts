import { Body, Controller, HttpCode, Ip, Post } from '@nestjs/common';
import { AcceptsBody } from '../common/body';
import { ApiBearerAuth, ApiBody, ApiTags } from '@nestjs/swagger';
import { SchemaPipe } from '../common/schema.pipe';
import { AuthService, type Session } from './auth.service';
import { CurrentSession, NeedsScope, Public } from './auth.guard';

const loginSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['username', 'password'],
  properties: { username: { type: 'string', minLength: 1, maxLength: 64 }, password: { type: 'string', minLength: 1, maxLength: 256 } },
} as const;

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Public()
  @Post('login')
  @HttpCode(200)
  @AcceptsBody({ json: 'public' })
  @ApiBody({ schema: loginSchema as object })
  login(@Body(new SchemaPipe(loginSchema)) body: { username: string; password: string }, @Ip() address: string) {
    return this.auth.login(body.username, body.password, address);
  }

  /** Revokes the token this call comes with; any token may end itself. */
  @ApiBearerAuth()
  @Post('logout')
  @HttpCode(204)
  @NeedsScope('read')
  async logout(@CurrentSession() session: Session): Promise<void> {
    await this.auth.logout(session);
  }
}
