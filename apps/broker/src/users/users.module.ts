import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthService } from './auth.service';
import { UsersRepository } from './users.repository';
import { AuthController } from './auth.controller';
import { UsersController } from './users.controller';
import { ApiToken, User } from './user.entity';

/** Users, API tokens and sign-in. */
@Module({
  imports: [TypeOrmModule.forFeature([User, ApiToken])],
  controllers: [AuthController, UsersController],
  providers: [AuthService, UsersRepository],
  exports: [AuthService, UsersRepository],
})
export class UsersModule {}
