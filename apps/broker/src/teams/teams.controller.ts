import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiTags } from '@nestjs/swagger';
import { NAME_PATTERN } from '@gearshift/cartridges';
import { AcceptsBody } from '../common/body';
import { SchemaPipe } from '../common/schema.pipe';
import { CurrentUser } from '../users/auth.guard';
import type { User } from '../users/user.entity';
import { ROLES, type Role } from './policy';
import { TeamsService } from './teams.service';

const createTeamSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: { type: 'string', pattern: NAME_PATTERN } },
} as const;

const memberSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['username', 'role'],
  properties: { username: { type: 'string', minLength: 1, maxLength: 64 }, role: { type: 'string', enum: [...ROLES] } },
} as const;

// null lifts a limit.
const limit = { type: ['integer', 'null'], minimum: 0, maximum: 1_000_000 } as const;
const quotaSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: { maxGears: limit, maxMemoryMb: limit },
} as const;

@ApiTags('teams')
@ApiBearerAuth()
@Controller('teams')
export class TeamsController {
  constructor(private readonly teams: TeamsService) {}

  /** The caller's teams with their role in each (an administrator sees every team). */
  @Get()
  list(@CurrentUser() user: User) {
    return this.teams.list(user);
  }

  /** A new team; the caller is its owner. */
  @Post()
  @AcceptsBody({ json: 'api' })
  @ApiBody({ schema: createTeamSchema as object })
  create(@CurrentUser() user: User, @Body(new SchemaPipe(createTeamSchema)) body: { name: string }) {
    return this.teams.create(user, body.name);
  }

  /** The team's members and roles, its quota and what it uses. */
  @Get(':team')
  get(@CurrentUser() user: User, @Param('team') team: string) {
    return this.teams.get(user, team);
  }

  /** Adds a member, or changes a member's role (owners only). */
  @Post(':team/members')
  @HttpCode(200)
  @AcceptsBody({ json: 'api' })
  @ApiBody({ schema: memberSchema as object })
  addMember(@CurrentUser() user: User, @Param('team') team: string, @Body(new SchemaPipe(memberSchema)) body: { username: string; role: Role }) {
    return this.teams.setMember(user, team, body.username, body.role);
  }

  /** Removes a member (owners only); never the team's last owner. */
  @Delete(':team/members/:username')
  @HttpCode(204)
  async removeMember(@CurrentUser() user: User, @Param('team') team: string, @Param('username') username: string): Promise<void> {
    await this.teams.removeMember(user, team, username);
  }

  /** Sets the team's quota (administrators only): gears and memory its apps may hold in all; null is unlimited. */
  @Put(':team/quota')
  @AcceptsBody({ json: 'api' })
  @ApiBody({ schema: quotaSchema as object })
  setQuota(
    @CurrentUser() user: User,
    @Param('team') team: string,
    @Body(new SchemaPipe(quotaSchema)) body: { maxGears?: number | null; maxMemoryMb?: number | null },
  ) {
    return this.teams.setQuota(user, team, body);
  }
}
