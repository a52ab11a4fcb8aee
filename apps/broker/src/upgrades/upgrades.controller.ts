import { Body, Controller, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiQuery, ApiTags } from '@nestjs/swagger';
import { AcceptsBody } from '../common/body';
import { SchemaPipe } from '../common/schema.pipe';
import { WaitPipe } from '../common/wait.pipe';
import { CurrentUser } from '../users/auth.guard';
import type { User } from '../users/user.entity';
import { upgradeTarget, UpgradesService } from './upgrades.service';

export const upgradeSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    to: {
      type: 'string',
      minLength: 1,
      maxLength: 64,
      description: "the cartridge that takes over the data (postgresql-17); the old one takes no writes until the switch (the app's writes fail meanwhile)",
    },
    confirm: { type: 'boolean', description: 'the upgrade is good: the old database and its kept volume go' },
    abort: {
      type: 'boolean',
      description: 'the old database starts, is healthy and takes writes, the web gears move back to it health-gated; then the new one goes',
    },
  },
} as const;

type UpgradeBody = { to?: string; confirm?: boolean; abort?: boolean };

@ApiTags('apps')
@ApiBearerAuth()
@Controller('domains/:domain/apps')
export class UpgradesController {
  constructor(private readonly upgrades: UpgradesService) {}

  /** `{to}` starts an upgrade of the cartridge; `{confirm: true}` or `{abort: true}` ends the one it is part of. */
  @Post(':app/cartridges/:cartridge/upgrade')
  @HttpCode(202)
  @AcceptsBody({ json: 'api' })
  @ApiBody({ schema: upgradeSchema as object })
  @ApiQuery({ name: 'wait', required: false, description: 'seconds to wait for the operation to end (0-600)' })
  upgrade(
    @CurrentUser() user: User,
    @Param('domain') domain: string,
    @Param('app') app: string,
    @Param('cartridge') cartridge: string,
    @Body(new SchemaPipe(upgradeSchema)) body: UpgradeBody,
    @Query('wait', WaitPipe) w?: number,
  ) {
    if (body.confirm || body.abort) return this.upgrades.settle(user, domain, app, cartridge, body.confirm ? 'confirm' : 'abort', w);
    return this.upgrades.start(user, domain, app, cartridge, upgradeTarget(body), w);
  }
}
