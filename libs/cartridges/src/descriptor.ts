import type { FromSchema } from 'json-schema-to-ts';
import type { ValidateFunction } from 'ajv';
import type { YAMLParseError } from 'yaml';
import { envNamePattern } from './manifest.schema';
import { NAME_PATTERN } from './gear-sizes';
import { ajv, check, SchemaViolationError } from './validation';
import { checkYamlLimits, MAX_YAML_ALIASES } from './yaml-limits';
import { cartridgeEntrySchema } from './cartridge-options';
import { appHealthSchema } from './app-health';

/** Autoscaling bounds of an app's web gears, as the API and gearshift.yml both take them. */
export const autoscaleSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['min', 'max'],
  properties: {
    min: { type: 'integer', minimum: 1, maximum: 100 },
    max: { type: 'integer', minimum: 1, maximum: 100 },
    targetConcurrency: { type: 'integer', minimum: 1, maximum: 10000 },
  },
} as const;

/** `gearshift.yml`: an app as data, checked into its repository. */
export const descriptorSchema = {
  $id: 'https://gearshift.dev/schemas/app-descriptor.json',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'cartridges'],
  properties: {
    name: { type: 'string', pattern: NAME_PATTERN },
    /** Names, or objects with a name and settings (a gear size; for docker-image, the image and how to run it). */
    cartridges: { type: 'array', minItems: 1, uniqueItems: true, items: { oneOf: [{ type: 'string', minLength: 1, maxLength: 64 }, cartridgeEntrySchema] } },
    size: { type: 'string', enum: ['small', 'medium', 'large'] },
    scale: { type: 'integer', minimum: 1, maximum: 100 },
    autoscale: autoscaleSchema,
    env: { type: 'object', maxProperties: 200, propertyNames: { pattern: envNamePattern }, additionalProperties: { type: ['string', 'number', 'boolean'] } },
    aliases: {
      type: 'array',
      uniqueItems: true,
      items: { type: 'string', pattern: '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$' },
    },
    idleAfterSeconds: { type: ['integer', 'null'], minimum: 1 },
    /** The web gears' health check, when the cartridge's (any answer on the port) is not enough: `{path: /ready, status: 200}`. */
    health: appHealthSchema,
    /**
     * Shell commands run at each step of a deployment: pre-build and build while the image is built, deploy once
     * before the new release takes traffic (database migrations), post-deploy once it serves. A file
     * `.gearshift/hooks/<name>` in the repository does the same when no command is given here.
     */
    hooks: {
      type: 'object',
      additionalProperties: false,
      properties: {
        'pre-build': { type: 'string', minLength: 1, maxLength: 4096 },
        build: { type: 'string', minLength: 1, maxLength: 4096 },
        deploy: { type: 'string', minLength: 1, maxLength: 4096 },
        'post-deploy': { type: 'string', minLength: 1, maxLength: 4096 },
      },
    },
  },
  not: { required: ['scale', 'autoscale'] },
} as const;

export type AppDescriptor = FromSchema<typeof descriptorSchema>;

/** The environment a descriptor declares, as the strings the gears get (YAML may give numbers and booleans). */
export const descriptorEnv = (d: AppDescriptor): Record<string, string> => Object.fromEntries(Object.entries(d.env ?? {}).map(([k, v]) => [k, String(v)]));

let validateDescriptor: ValidateFunction | undefined;

/** Parses a gearshift.yml (YAML or JSON); every violation is reported at once, each with its path and rule. */
export function parseDescriptor(text: string, subject = 'gearshift.yml'): AppDescriptor {
  let raw: unknown;
  checkYamlLimits(text, subject);
  try {
    raw = (require('yaml') as typeof import('yaml')).parse(text, { maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    const pos = (err as YAMLParseError).linePos;
    throw new SchemaViolationError(subject, [
      { pointer: '', rule: 'yaml', message: `is not valid YAML${pos ? ` (line ${pos[0].line})` : ''}: ${(err as Error).message}` },
    ]);
  }
  validateDescriptor ??= ajv().compile(descriptorSchema);
  try {
    return check<AppDescriptor>(validateDescriptor, raw ?? {}, subject);
  } catch (err) {
    if (err instanceof SchemaViolationError) {
      for (const v of err.violations)
        if (v.rule === 'not') Object.assign(v, { pointer: '/autoscale', message: 'cannot be given together with scale: choose a fixed scale or autoscaling' });
    }
    throw err;
  }
}
