import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { TeamsModule } from '../teams/teams.module';
import { UsersModule } from '../users/users.module';
import { DomainsRepository } from './domains.repository';
import { DomainsService } from './domains.service';
import { DomainsController } from './domains.controller';
import { Domain } from './domain.entity';

/** Domains, the namespaces of apps. */
@Module({
  imports: [TypeOrmModule.forFeature([Domain]), UsersModule, TeamsModule],
  controllers: [DomainsController],
  providers: [DomainsRepository, DomainsService],
  exports: [DomainsRepository, DomainsService],
})
export class DomainsModule {}
