import type { FromSchema } from 'json-schema-to-ts';
import { securitySchema } from './security';

/**
 * The JSON Schema of a cartridge manifest (`cartridges/<name>/manifest.yml`). The TypeScript type below is derived
 * from it, so the type and the validation can never disagree.
 */
export const cartridgeNamePattern = '^[a-z][a-z0-9]*(-[a-z0-9.]+)*$';
export const envNamePattern = '^[A-Za-z_][A-Za-z0-9_]*$';

/**
 * A health check path: it ends up in the router's configuration as well as in the agent's request, so it is kept to
 * the characters of a URL path and query that need no quoting there.
 */
export const healthPathPattern = '^/[A-Za-z0-9._~%/?=&+,;:@!$*()-]*$';

const healthCheckSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    http: {
      type: 'object',
      additionalProperties: false,
      required: ['path'],
      properties: {
        path: { type: 'string', pattern: healthPathPattern, maxLength: 200 },
        /**
         * What answer counts as healthy: one status code, or `any` (the gear answers HTTP at all, which is what an app
         * without a health route can promise). Absent: any status below 400.
         */
        status: {
          oneOf: [
            { type: 'integer', minimum: 100, maximum: 599 },
            { type: 'string', const: 'any' },
          ],
        },
      },
    },
    command: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
    tcp: { type: 'boolean', const: true },
    'timeout-seconds': { type: 'integer', minimum: 1, maximum: 600 },
  },
  oneOf: [{ required: ['http'] }, { required: ['command'] }, { required: ['tcp'] }],
} as const;

export const manifestSchema = {
  $id: 'https://gearshift.dev/schemas/cartridge-manifest.json',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'display-name', 'version', 'categories', 'image', 'endpoints'],
  properties: {
    name: { type: 'string', pattern: cartridgeNamePattern, maxLength: 40 },
    'display-name': { type: 'string', minLength: 1, maxLength: 80 },
    version: { type: 'string', minLength: 1, maxLength: 40 },
    description: { type: 'string', maxLength: 500 },
    /**
     * Where the runtime stands: `current` for new apps, `deprecated` for apps that already use it (new ones get a
     * warning). Absent: current.
     */
    status: { type: 'string', enum: ['current', 'deprecated'] },
    /** The day the runtime's own project stops fixing it (security fixes included), YYYY-MM-DD. */
    'end-of-life': { type: 'string', pattern: '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$' },
    /** The Debian release the cartridge's image is built FROM (its base image). Absent: bookworm. */
    base: { type: 'string', enum: ['bookworm', 'trixie'] },
    /**
     * The cartridges whose data this one takes over in one upgrade (`postgresql-17` from `postgresql-15`): a dump of
     * the old gear restored into a new gear of this one. Absent: no upgrade leads here.
     */
    'upgrades-from': { type: 'array', uniqueItems: true, items: { type: 'string', pattern: cartridgeNamePattern } },
    categories: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { type: 'string', enum: ['web', 'service', 'database', 'cache', 'ci', 'proxy'] },
    },
    provides: { type: 'array', uniqueItems: true, items: { type: 'string', minLength: 1 } },
    requires: { type: 'array', uniqueItems: true, items: { type: 'string', minLength: 1 } },
    conflicts: { type: 'array', uniqueItems: true, items: { type: 'string', minLength: 1 } },
    image: {
      type: 'object',
      additionalProperties: false,
      properties: {
        build: { type: 'string', const: '.' },
        ref: { type: 'string', minLength: 1 },
        /** The app names the image (the docker-image cartridge). */
        'from-app': { type: 'boolean', const: true },
      },
      oneOf: [{ required: ['build'] }, { required: ['ref'] }, { required: ['from-app'] }],
    },
    command: { type: 'array', items: { type: 'string' } },
    user: { type: 'string' },
    endpoints: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'port', 'protocol'],
        properties: {
          name: { type: 'string', pattern: '^[a-z][a-z0-9-]*$' },
          port: { type: 'integer', minimum: 1, maximum: 65535 },
          protocol: { type: 'string', enum: ['http', 'tcp'] },
          public: { type: 'boolean' },
          health: healthCheckSchema,
        },
      },
    },
    volumes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'path'],
        properties: {
          name: { type: 'string', pattern: '^[a-z][a-z0-9-]*$' },
          path: { type: 'string', pattern: '^/' },
        },
      },
    },
    env: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: { type: 'string', pattern: envNamePattern },
          value: { type: 'string' },
          generate: { type: 'string', enum: ['username', 'password', 'token', 'tls-certificate', 'tls-key'] },
          secret: { type: 'boolean' },
        },
        oneOf: [{ required: ['value'] }, { required: ['generate'] }],
      },
    },
    publishes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'value'],
        properties: {
          name: { type: 'string', pattern: envNamePattern },
          value: { type: 'string' },
          secret: { type: 'boolean' },
        },
      },
    },
    subscribes: {
      type: 'array',
      uniqueItems: true,
      items: { type: 'string', enum: ['service', 'database', 'cache', 'ci', 'proxy'] },
    },
    scaling: {
      type: 'object',
      additionalProperties: false,
      required: ['min', 'max'],
      properties: {
        min: { type: 'integer', minimum: 0, maximum: 100 },
        max: { type: 'integer', minimum: 1, maximum: 100 },
      },
    },
    build: {
      description: 'How app code becomes an image on top of this cartridge (web cartridges).',
      type: 'object',
      additionalProperties: false,
      required: ['workdir'],
      properties: {
        /** Where the source tree goes; the starter app there is replaced. */
        workdir: { type: 'string', pattern: '^/' },
        /** Files copied before the rest, so that installing dependencies is its own cached layer. */
        dependencies: { type: 'array', uniqueItems: true, items: { type: 'string', pattern: '^[A-Za-z0-9._-]+$' } },
        /** Runs when one of the dependency files is present. */
        install: { type: 'string', minLength: 1 },
        /** Runs once the whole source is in (a build script, pruning); the runtime's step, before the app's build hook. */
        compile: { type: 'string', minLength: 1 },
        /**
         * The compile step has work for the whole source only when this JSON file (one of the dependencies) names
         * this key, a dotted path of object keys (a build script). Otherwise it reads only the dependency files and
         * the Procfile and runs before the source is copied, so that new code alone is one layer over cached ones.
         */
        'compile-needs': {
          type: 'object',
          additionalProperties: false,
          required: ['file', 'key'],
          properties: { file: { type: 'string', pattern: '^[A-Za-z0-9._-]+$' }, key: { type: 'string', minLength: 1 } },
        },
        /** The command of a built app; the cartridge's command when absent. */
        command: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
      },
    },
    snapshot: {
      description:
        "How a snapshot takes this cartridge's data out and puts it back: commands run in the gear (the dump on stdout, the restore from stdin), or the Redis protocol.",
      type: 'object',
      additionalProperties: false,
      required: ['file'],
      properties: {
        file: { type: 'string', pattern: '^[A-Za-z0-9._-]+$' },
        dump: { type: 'array', minItems: 1, items: { type: 'string' } },
        restore: { type: 'array', minItems: 1, items: { type: 'string' } },
        protocol: { type: 'string', enum: ['redis'] },
        'password-env': { type: 'string', pattern: envNamePattern },
        /**
         * Counts the rows of the data, run in the gear: one `name<TAB>rows` line a table. An upgrade compares the
         * counts before and after. (The Redis protocol counts keys itself.)
         */
        count: { type: 'array', minItems: 1, items: { type: 'string' } },
        /**
         * Makes the database refuse writes (reads go on), run in the gear: an upgrade runs it before its counts and
         * dump, so that no write is acknowledged by the old database after the copy and then lost at the switch.
         */
        quiesce: { type: 'array', minItems: 1, items: { type: 'string' } },
        /** Takes writes again after `quiesce`: when an upgrade fails before its switch, or is aborted. */
        resume: { type: 'array', minItems: 1, items: { type: 'string' } },
      },
      oneOf: [{ required: ['dump', 'restore'] }, { required: ['protocol'] }],
    },
    security: securitySchema,
    sizes: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { type: 'string', enum: ['small', 'medium', 'large'] },
    },
  },
} as const;

export type CartridgeManifest = FromSchema<typeof manifestSchema>;
export type Endpoint = NonNullable<CartridgeManifest['endpoints']>[number];
export type HealthCheck = NonNullable<Endpoint['health']>;
export type BuildSection = NonNullable<CartridgeManifest['build']>;
export type SecuritySection = NonNullable<CartridgeManifest['security']>;
