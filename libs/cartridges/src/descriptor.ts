import type { FromSchema } from 'json-schema-to-ts';
import type { ValidateFunction } from 'ajv';
import type { YAMLParseError } from 'yaml';
import { envNamePattern } from './manifest.schema';
import { NAME_PATTERN } from './gear-sizes';
import { ajv, check, SchemaViolationError, type Violation } from './validation';
import { checkYamlLimits, MAX_YAML_DEPTH, readYaml } from './yaml-limits';
import { valueProblem } from './value-problems';
import { cartridgeEntrySchema, entryName, entryOptions } from './cartridge-options';
import { appHealthSchema } from './app-health';
import { cronSchema } from './cron';
import { serviceViolations, servicesSchema } from './services';

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
    /** At least one, unless the app has services (see parseDescriptor). */
    cartridges: { type: 'array', uniqueItems: true, items: { oneOf: [{ type: 'string', minLength: 1, maxLength: 64 }, cartridgeEntrySchema] } },
    size: { type: 'string', enum: ['small', 'medium', 'large'] },
    scale: { type: 'integer', minimum: 1, maximum: 100 },
    autoscale: autoscaleSchema,
    env: { type: 'object', maxProperties: 200, propertyNames: { pattern: envNamePattern }, additionalProperties: { type: ['string', 'number', 'boolean'] } },
    aliases: {
      type: 'array',
      uniqueItems: true,
      items: { type: 'string', pattern: '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$' },
    },
    /** The app's own services, by name: built from folders of the repository or run from images (see services.ts). */
    services: servicesSchema,
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
    /** Commands run on a schedule (see cron.ts). */
    cron: cronSchema,
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
    raw = readYaml(text);
  } catch (err) {
    const pos = (err as YAMLParseError).linePos;
    throw new SchemaViolationError(subject, [
      { pointer: '', rule: 'yaml', message: `is not valid YAML${pos ? ` (line ${pos[0].line})` : ''}: ${(err as Error).message}` },
    ]);
  }
  // YAML writes NUL characters (\0 in a quoted string), which no environment, argument or Postgres text holds.
  const bad = valueProblem(raw, MAX_YAML_DEPTH);
  if (bad) throw new SchemaViolationError(subject, [bad]);
  validateDescriptor ??= ajv().compile(descriptorSchema);
  // An app is its cartridges, its services, or both: a file with neither describes nothing.
  const doc = typeof raw === 'object' && raw !== null ? (raw as { cartridges?: unknown; services?: unknown }) : {};
  const empty: Violation[] =
    Array.isArray(doc.cartridges) &&
    doc.cartridges.length === 0 &&
    (typeof doc.services !== 'object' || doc.services === null || Object.keys(doc.services).length === 0)
      ? [{ pointer: '/cartridges', rule: 'minItems', message: 'must NOT have fewer than 1 items (or give the app services)' }]
      : [];
  let d: AppDescriptor;
  try {
    d = check<AppDescriptor>(validateDescriptor, raw ?? {}, subject);
  } catch (err) {
    if (err instanceof SchemaViolationError) {
      for (const v of err.violations)
        if (v.rule === 'not')
          Object.assign(v, { pointer: `${v.pointer}/autoscale`, message: 'cannot be given together with scale: choose a fixed scale or autoscaling' });
      if (empty.length) throw new SchemaViolationError(subject, [...err.violations, ...empty], err.more);
    }
    throw err;
  }
  const violations = [...empty, ...serviceViolations(d.services ?? {}, d.cartridges.map(entryName)), ...aliasViolations(d)];
  if (violations.length) throw new SchemaViolationError(subject, violations);
  return d;
}

/**
 * A cartridge's extra names share the app's network with its cartridges' and services' names: one name reaches one
 * thing, so an alias that is another cartridge's or a service's name, or that two cartridges give, is refused.
 */
export function aliasViolations(d: Pick<AppDescriptor, 'cartridges' | 'services'>): Violation[] {
  const taken = new Map<string, string>([
    ...d.cartridges.map((e): [string, string] => [entryName(e), `the cartridge ${entryName(e)}`]),
    ...Object.keys(d.services ?? {}).map((n): [string, string] => [n, `the service ${n}`]),
  ]);
  const out: Violation[] = [];
  for (const [i, e] of d.cartridges.entries()) {
    for (const [j, alias] of (entryOptions(e).aliases ?? []).entries()) {
      const holder = taken.get(alias);
      if (holder)
        out.push({ pointer: `/cartridges/${i}/aliases/${j}`, rule: 'unique', message: `${alias} is already the name of ${holder} on the app's network` });
      else taken.set(alias, `an alias of ${entryName(e)}`);
    }
  }
  return out;
}
