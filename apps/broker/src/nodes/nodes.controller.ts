import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { AcceptsBody } from '../common/body';
import { ApiBearerAuth, ApiBody, ApiTags } from '@nestjs/swagger';
import { SchemaPipe } from '../common/schema.pipe';
import { CurrentUser, Public } from '../users/auth.guard';
import type { User } from '../users/user.entity';
import { NodesService } from './nodes.service';
import { NodeJoinService, type Registration } from './node-join.service';
import { DiskHygieneService } from './disk-hygiene.service';
import { invalid } from '../common/errors';

const ZONE = '^[a-z0-9][a-z0-9._-]{0,62}$';
const LABELS = {
  type: 'object',
  maxProperties: 32,
  propertyNames: { pattern: '^[a-z0-9][a-z0-9._/-]{0,62}$' },
  additionalProperties: { type: 'string', maxLength: 63 },
} as const;

const tokenSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ttlHours: { type: 'integer', minimum: 1, maximum: 24 * 365 },
    /** How many nodes may join with it: one unless said otherwise. */
    uses: { type: 'integer', minimum: 1, maximum: 1000 },
  },
} as const;

const registerSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'memoryMb', 'maxGears'],
  properties: {
    /** A join token, for a node that joins now. */
    token: { type: 'string', minLength: 1, maxLength: 200 },
    /** The id and key of a node that joined before (no key: a node registered before nodes had keys). */
    nodeId: { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' },
    key: { type: 'string', minLength: 1, maxLength: 200 },
    /** The X25519 public key the agent made (base64url, 32 bytes): the node's secrets are sealed for it. */
    publicKey: { type: 'string', maxLength: 100 },
    name: { type: 'string', pattern: '^[a-z0-9][a-z0-9.-]{0,62}$' },
    memoryMb: { type: 'integer', minimum: 64 },
    maxGears: { type: 'integer', minimum: 1, maximum: 10000 },
    /** The job contract version the agent speaks; absent from agents older than versioned contracts. */
    contractVersion: { type: 'integer', minimum: 0 },
    zone: { type: 'string', pattern: ZONE },
    labels: LABELS,
  },
} as const;

const placementSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    /** null: the node stands in no zone (a zone of its own). */
    zone: { anyOf: [{ type: 'string', pattern: ZONE }, { type: 'null' }] },
    /** Replaces the node's labels. */
    labels: LABELS,
  },
} as const;

@ApiTags('nodes')
@ApiBearerAuth()
@Controller('nodes')
export class NodesController {
  constructor(
    private readonly nodes: NodesService,
    private readonly joining: NodeJoinService,
    private readonly disk: DiskHygieneService,
  ) {}

  @Get()
  list(@CurrentUser() user: User) {
    return this.nodes.list(user);
  }

  @Post('tokens')
  @AcceptsBody({ json: 'api' })
  @ApiBody({ schema: tokenSchema as object })
  createToken(@CurrentUser() user: User, @Body(new SchemaPipe(tokenSchema)) body: { ttlHours?: number; uses?: number }) {
    return this.joining.createToken(user, { ttlHours: body.ttlHours ?? 24, uses: body.uses ?? 1 });
  }

  @Get('tokens')
  listTokens(@CurrentUser() user: User) {
    return this.joining.listTokens(user);
  }

  @Delete('tokens/:id')
  @HttpCode(204)
  revokeToken(@CurrentUser() user: User, @Param('id') id: string) {
    return this.joining.revokeToken(user, id);
  }

  /** Called by a node agent, with a join token or (once it has joined) its node id and key; not by people. */
  @Public()
  @Post('register')
  @HttpCode(200)
  @AcceptsBody({ json: 'public' })
  @ApiBody({ schema: registerSchema as object })
  register(@Body(new SchemaPipe(registerSchema)) body: Registration) {
    return this.joining.register(body);
  }

  /** A node's zone and labels, as an operator sets them (an agent's own settings set them when it starts). */
  @Patch(':id')
  @AcceptsBody({ json: 'api' })
  @ApiBody({ schema: placementSchema as object })
  setPlacement(
    @CurrentUser() user: User,
    @Param('id') id: string,
    @Body(new SchemaPipe(placementSchema)) body: { zone?: string | null; labels?: Record<string, string> },
  ) {
    return this.nodes.setPlacement(user, id, body);
  }

  /** A drained node takes gears again (it gets no gear back by itself: new placements may choose it). */
  @Post(':id/activate')
  @HttpCode(200)
  activate(@CurrentUser() user: User, @Param('id') id: string) {
    return this.nodes.activate(user, id);
  }

  /** Disk hygiene on one node now; `?dryRun=true` lists what would go and removes nothing. */
  @Post(':id/gc')
  @HttpCode(200)
  gc(@CurrentUser() user: User, @Param('id') id: string, @Query('dryRun') dryRun?: string) {
    if (dryRun !== undefined && dryRun !== 'true' && dryRun !== 'false') throw invalid('/dryRun', 'enum', 'dryRun must be true or false');
    return this.disk.runOn(user, id, dryRun === 'true');
  }

  @Delete(':id')
  @HttpCode(204)
  remove(@CurrentUser() user: User, @Param('id') id: string) {
    return this.nodes.remove(user, id);
  }
}
