import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthService } from './auth.service';
import { AccountsService } from './accounts.service';
import { TokensService } from './tokens.service';
import { UsersRepository } from './users.repository';
import { AuthController } from './auth.controller';
import { UsersController } from './users.controller';
import { TokensController } from './tokens.controller';
import { ApiToken, User } from './user.entity';

/** Users, API tokens (login and personal, scoped) and sign-in. */
@Module({
  imports: [TypeOrmModule.forFeature([User, ApiToken])],
  controllers: [AuthController, UsersController, TokensController],
  providers: [AuthService, AccountsService, TokensService, UsersRepository],
  exports: [AuthService, UsersRepository],
})
export class UsersModule {}
