import { Controller, Get, Param } from '@nestjs/common';
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

  @Get(':name')
  get(@Param('name') name: string) {
    const c = this.catalog.require(name);
    return { name: c.manifest.name, hash: c.hash, manifest: c.manifest };
  }
}
