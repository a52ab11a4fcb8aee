import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppsModule } from '../apps/apps.module';
import { CartridgesModule } from '../cartridges/cartridges.module';
import { DomainsModule } from '../domains/domains.module';
import { FleetModule } from '../fleet/fleet.module';
import { UsersModule } from '../users/users.module';
import { AliasesRepository } from './aliases.repository';
import { AliasesService } from './aliases.service';
import { RoutesService } from './routes.service';
import { AliasesController } from './aliases.controller';
import { Alias } from './alias.entity';

/** The router's table and the apps' aliases. */
@Module({
  imports: [TypeOrmModule.forFeature([Alias]), AppsModule, CartridgesModule, DomainsModule, FleetModule, UsersModule],
  controllers: [AliasesController],
  providers: [AliasesRepository, AliasesService, RoutesService],
  exports: [AliasesRepository, AliasesService, RoutesService],
})
export class RoutesModule {}
