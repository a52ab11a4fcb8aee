import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { CurrentUser } from '../users/auth.guard';
import type { User } from '../users/user.entity';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CatalogService } from './catalog.service';

@ApiTags('cartridges')
@ApiBearerAuth()
@Controller('cartridges')
export class CartridgesController {
  constructor(private readonly catalog: CatalogService) {}

  @Get()
  list() {
    return this.catalog.list();
  }

  /** Administrators: read the cartridge folders again after adding or changing one. */
  @Post('reload')
  @HttpCode(200)
  reload(@CurrentUser() user: User) {
    return this.catalog.reload(user);
  }

  @Get(':name')
  get(@Param('name') name: string) {
    const c = this.catalog.require(name);
    return { name: c.manifest.name, hash: c.hash, manifest: c.manifest };
  }
}
