import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { UsersModule } from '../users/users.module';
import { CartridgesRepository } from './cartridges.repository';
import { CatalogService } from './catalog.service';
import { CartridgesController } from './cartridges.controller';
import { CartridgeRecord } from './cartridge.entity';

/** The cartridge catalogue. */
@Module({
  imports: [TypeOrmModule.forFeature([CartridgeRecord]), UsersModule],
  controllers: [CartridgesController],
  providers: [CartridgesRepository, CatalogService],
  exports: [CartridgesRepository, CatalogService],
})
export class CartridgesModule {}
