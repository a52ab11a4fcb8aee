import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CartridgesModule } from '../cartridges/cartridges.module';
import { DomainsModule } from '../domains/domains.module';
import { UsersModule } from '../users/users.module';
import { AppAccess } from './app-access.service';
import { AppsRepository } from './apps.repository';
import { DeploymentsRepository } from './deployments.repository';
import { GearSpecsService } from './gear-specs.service';
import { GeneratedValuesService } from './generated-values.service';
import { AppCartridge } from './app-cartridge.entity';
import { App } from './app.entity';
import { Deployment } from './deployment.entity';
import { Gear } from './gear.entity';

/** The app model: apps, their cartridges, gears and releases, and the gear specs made from them. */
@Module({
  imports: [TypeOrmModule.forFeature([AppCartridge, App, Deployment, Gear]), CartridgesModule, DomainsModule, UsersModule],
  providers: [AppAccess, AppsRepository, DeploymentsRepository, GearSpecsService, GeneratedValuesService],
  exports: [AppAccess, AppsRepository, DeploymentsRepository, GearSpecsService, GeneratedValuesService],
})
export class AppsModule {}
