import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { AcceptsBody } from '../common/body';
import { ApiBody, ApiTags } from '@nestjs/swagger';
import { SchemaPipe } from '../common/schema.pipe';
import { AuthService } from './auth.service';
import { Public } from './auth.guard';

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
  login(@Body(new SchemaPipe(loginSchema)) body: { username: string; password: string }) {
    return this.auth.login(body.username, body.password);
  }
}
