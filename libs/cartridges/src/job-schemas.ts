/**
 * JSON Schemas of the job payloads in `jobs.ts`, checked by whichever side takes a job off a queue. They state the
 * shape (required fields, types, the values an enumeration allows), not the policy: what a name or an image
 * reference may be is decided where it is used. Fields they do not name are let through; a change that a side of
 * the other version could not read bumps JOB_CONTRACT_VERSION instead.
 */

const string = { type: 'string' } as const;
const number = { type: 'number' } as const;
const integer = { type: 'integer' } as const;
const boolean = { type: 'boolean' } as const;
const strings = { type: 'array', items: string } as const;
const command = { type: 'array', minItems: 1, items: string } as const;
const terminalSize = {
  type: 'object',
  additionalProperties: false,
  required: ['cols', 'rows'],
  properties: { cols: { type: 'integer', minimum: 1, maximum: 1000 }, rows: { type: 'integer', minimum: 1, maximum: 1000 } },
} as const;
const stringMap = { type: 'object', additionalProperties: string } as const;
const numberMap = { type: 'object', additionalProperties: number } as const;

const object = <P extends Record<string, object>, R extends readonly (keyof P & string)[]>(properties: P, required: R) =>
  ({ type: 'object', required, properties }) as const;

const port = { type: 'integer', minimum: 1, maximum: 65535 } as const;

const imageSchema = {
  type: 'object',
  oneOf: [object({ build: object({ cartridge: string, hash: string }, ['cartridge', 'hash']) }, ['build']), object({ ref: string }, ['ref'])],
} as const;

/**
 * A union told apart by its `kind`: each kind's own fields are checked once the kind is known, so that an error
 * names the missing or bad field rather than every alternative.
 */
const byKind = (kinds: Record<string, { properties: Record<string, object>; required: readonly string[] }>, common: Record<string, object> = {}) => ({
  type: 'object',
  required: ['kind', ...Object.keys(common)],
  properties: { kind: { type: 'string', enum: Object.keys(kinds) }, ...common },
  allOf: Object.entries(kinds).map(([kind, k]) => ({
    if: { type: 'object', required: ['kind'], properties: { kind: { type: 'string', const: kind } } },
    then: object(k.properties, k.required),
  })),
});

const healthSchema = byKind(
  {
    http: { properties: { port, path: string, status: { oneOf: [integer, { type: 'string', const: 'any' }] } }, required: ['port', 'path'] },
    command: { properties: { command }, required: ['command'] },
    tcp: { properties: { port }, required: ['port'] },
    none: { properties: {}, required: [] },
  },
  { timeoutSeconds: number },
);

const securitySpecSchema = object({ capabilities: strings, readOnlyRootFilesystem: boolean, tmpfs: strings }, [
  'capabilities',
  'readOnlyRootFilesystem',
  'tmpfs',
]);

export const gearSpecSchema = object(
  {
    gearId: string,
    appId: string,
    app: string,
    domain: string,
    cartridge: string,
    process: string,
    service: string,
    web: boolean,
    waitsFor: strings,
    image: imageSchema,
    command: strings,
    entrypoint: { type: 'array', items: { type: 'string' } },
    workingDir: string,
    user: string,
    containerName: string,
    network: string,
    hostname: string,
    aliases: strings,
    env: stringMap,
    ports: {
      type: 'array',
      items: object({ name: string, containerPort: port, protocol: { type: 'string', enum: ['http', 'tcp'] }, publish: boolean }, [
        'name',
        'containerPort',
        'protocol',
        'publish',
      ]),
    },
    volumes: { type: 'array', items: object({ name: string, path: string }, ['name', 'path']) },
    anonymousVolumes: strings,
    resources: object({ memoryMb: number, cpus: number, pids: number }, ['memoryMb', 'cpus', 'pids']),
    security: securitySpecSchema,
    health: healthSchema,
    running: boolean,
    generation: number,
  },
  [
    'gearId',
    'appId',
    'app',
    'domain',
    'cartridge',
    'web',
    'image',
    'containerName',
    'network',
    'hostname',
    'aliases',
    'env',
    'ports',
    'volumes',
    'resources',
    'health',
    'running',
    'generation',
  ],
);

const gearReportSchema = object(
  {
    gearId: string,
    appId: string,
    state: { type: 'string', enum: ['running', 'stopped', 'starting', 'failed', 'missing'] },
    specHash: string,
    containerId: string,
    ports: numberMap,
    inside: object({ address: string, ports: numberMap }, ['address', 'ports']),
    message: string,
    epoch: integer,
  },
  ['gearId', 'appId', 'state', 'ports'],
);

const recipeSchema = object(
  {
    workdir: string,
    dependencies: strings,
    install: string,
    compile: string,
    compileNeeds: object({ file: string, key: string }, ['file', 'key']),
    command: strings,
    port,
    user: string,
    hooks: object({ preBuild: string, build: string }, []),
  },
  ['workdir', 'dependencies', 'hooks'],
);

const snapshotItemSchema = object(
  {
    gearId: string,
    cartridge: string,
    file: string,
    method: byKind({
      exec: { properties: { dump: command, restore: command, count: command }, required: ['dump', 'restore'] },
      redis: { properties: { port, passwordEnv: string }, required: ['port'] },
      files: { properties: { path: string }, required: ['path'] },
    }),
  },
  ['gearId', 'cartridge', 'file', 'method'],
);
const snapshotItems = { type: 'array', items: snapshotItemSchema } as const;

/** The payload schema of every job on a node's queue. */
export const nodeJobSchemas = {
  'app.converge': object(
    {
      operationId: string,
      appId: string,
      gears: { type: 'array', items: gearSpecSchema },
      keepImages: strings,
      drainMs: { type: 'number', minimum: 0 },
      after: object({ gearId: string, command }, ['gearId', 'command']),
      epochs: { type: 'object', additionalProperties: { type: 'integer', minimum: 1 } },
    },
    ['appId', 'gears'],
  ),
  'app.build': object(
    {
      operationId: string,
      appId: string,
      deploymentId: string,
      sourceUrl: string,
      base: imageSchema,
      recipe: { oneOf: [{ type: 'null' }, recipeSchema] },
      tag: string,
      push: boolean,
      labels: stringMap,
      limits: object(
        {
          memoryMb: { type: 'number', minimum: 1 },
          timeoutSeconds: { type: 'number', minimum: 1 },
          cpus: { type: 'number', exclusiveMinimum: 0 },
          pids: { type: 'integer', minimum: 1 },
        },
        ['memoryMb', 'timeoutSeconds'],
      ),
      release: object(
        { command, network: string, env: stringMap, security: securitySpecSchema, name: { type: 'string', enum: ['deploy hook', 'release'] }, image: string },
        ['command', 'network', 'env'],
      ),
      secrets: strings,
      services: {
        type: 'array',
        items: object(
          {
            name: string,
            context: string,
            dockerfile: string,
            target: string,
            base: imageSchema,
            recipe: { oneOf: [{ type: 'null' }, recipeSchema] },
            tag: string,
            start: string,
          },
          ['name', 'context', 'recipe', 'tag'],
        ),
      },
      onlyServices: boolean,
    },
    ['operationId', 'appId', 'deploymentId', 'sourceUrl', 'base', 'recipe', 'tag', 'push', 'labels', 'limits', 'secrets'],
  ),
  'app.snapshot': object({ operationId: string, appId: string, uploadUrl: string, items: snapshotItems, meta: { type: 'object' } }, [
    'operationId',
    'appId',
    'uploadUrl',
    'items',
    'meta',
  ]),
  'app.restore': object({ operationId: string, appId: string, sourceUrl: string, items: snapshotItems }, ['operationId', 'appId', 'sourceUrl', 'items']),
  'app.writes': object({ operationId: string, appId: string, gearId: string, cartridge: string, allow: boolean, command }, [
    'operationId',
    'appId',
    'gearId',
    'cartridge',
    'allow',
    'command',
  ]),
  'app.logs': object({ appId: string, channel: string, alive: string, tail: integer, follow: boolean }, ['appId', 'channel', 'alive', 'tail', 'follow']),
  'app.run': object(
    {
      appId: string,
      channel: string,
      alive: string,
      image: string,
      command,
      env: stringMap,
      network: string,
      labels: stringMap,
      limits: object({ memoryMb: { type: 'number', minimum: 1 }, cpus: { type: 'number', exclusiveMinimum: 0 }, pids: { type: 'integer', minimum: 1 } }, [
        'memoryMb',
        'cpus',
        'pids',
      ]),
      security: securitySpecSchema,
      timeoutSeconds: { type: 'number', minimum: 1 },
      secrets: strings,
      tty: terminalSize,
      input: string,
      inputAcks: boolean,
    },
    ['appId', 'channel', 'alive', 'image', 'command', 'env', 'network', 'labels', 'limits', 'timeoutSeconds', 'secrets'],
  ),
  'app.exec': object(
    {
      appId: string,
      gearId: string,
      channel: string,
      alive: string,
      command,
      timeoutSeconds: { type: 'number', minimum: 1 },
      secrets: strings,
      tty: terminalSize,
      input: string,
      inputAcks: boolean,
    },
    ['appId', 'gearId', 'channel', 'alive', 'command', 'timeoutSeconds', 'secrets'],
  ),
  'app.remove': object({ operationId: string, appId: string }, ['appId']),
  'node.ping': object({ sentAt: number }, ['sentAt']),
  'node.fence': object(
    { gears: { type: 'array', items: object({ gearId: string, appId: string, epoch: { type: 'integer', minimum: 1 } }, ['gearId', 'appId', 'epoch']) } },
    ['gears'],
  ),
  'node.gc': object(
    {
      at: number,
      apps: { type: 'array', items: string, maxItems: 100000 },
      keepImages: { type: 'array', items: string, maxItems: 1000000 },
      buildCacheMb: integer,
      graceMinutes: { type: 'integer', minimum: 0 },
      dryRun: boolean,
    },
    ['at', 'apps', 'keepImages', 'buildCacheMb'],
  ),
} as const;

/** The payload schema of every job on the broker's queue. */
export const brokerJobSchemas = {
  'app.wake': object({ appId: string, host: string }, ['appId', 'host']),
  'node.heartbeat': object(
    {
      nodeId: string,
      at: number,
      capacity: object({ memoryMb: number, maxGears: integer, address: string }, ['memoryMb', 'maxGears', 'address']),
      gears: { type: 'array', items: gearReportSchema },
      memoryRssMb: number,
      usage: {
        type: 'array',
        items: object({ gearId: string, appId: string, cpuSeconds: number, memoryBytes: number, cpuRatio: number }, [
          'gearId',
          'appId',
          'cpuSeconds',
          'memoryBytes',
        ]),
      },
      jobs: { type: 'array', items: object({ kind: string, seconds: number }, ['kind', 'seconds']), maxItems: 500 },
    },
    ['nodeId', 'at', 'capacity', 'gears', 'memoryRssMb'],
  ),
  'operation.report': object(
    {
      operationId: string,
      nodeId: string,
      appId: string,
      phase: { type: 'string', enum: ['step', 'succeeded', 'failed'] },
      at: number,
      step: string,
      steps: { type: 'array', items: object({ at: number, text: string }, ['at', 'text']) },
      log: strings,
      error: string,
      result: object({ image: string, dockerfile: { type: 'string', enum: ['recipe', 'repository'] } }, ['image', 'dockerfile']),
      gears: { type: 'array', items: gearReportSchema },
    },
    ['operationId', 'nodeId', 'appId', 'phase', 'at', 'gears'],
  ),
} as const;
