import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { UsersModule } from '../users/users.module';
import { Team, TeamMember } from './team.entity';
import { TeamPolicy } from './team-policy.service';
import { TeamsController } from './teams.controller';
import { TeamsRepository } from './teams.repository';
import { TeamsService } from './teams.service';

/** Teams, their members' roles, their quotas, and the policy every route on a team's domains goes through. */
@Module({
  imports: [TypeOrmModule.forFeature([Team, TeamMember]), UsersModule],
  controllers: [TeamsController],
  providers: [TeamsRepository, TeamPolicy, TeamsService],
  exports: [TeamsRepository, TeamPolicy],
})
export class TeamsModule {}
