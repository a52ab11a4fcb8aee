import {
  GEAR_SIZE_NAMES,
  LINUX_CAPABILITIES,
  NAME_PATTERN,
  appHealthSchema,
  autoscaleSchema,
  cartridgeEntrySchema,
  envNamePattern,
  SERVICE_NAME,
} from '@gearshift/cartridges';
import type { AppHealth, CartridgeEntry, GearSize } from '@gearshift/cartridges';

/** Request bodies of the apps API as JSON Schemas: ajv validates them and OpenAPI documents them. */

const envValues = {
  type: 'object',
  maxProperties: 200,
  propertyNames: { pattern: envNamePattern, maxLength: 128 },
  additionalProperties: { type: 'string', maxLength: 32768 },
} as const;

export const createAppSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'cartridges'],
  properties: {
    name: { type: 'string', pattern: NAME_PATTERN },
    cartridges: {
      type: 'array',
      maxItems: 16,
      uniqueItems: true,
      items: { oneOf: [{ type: 'string', minLength: 1, maxLength: 64 }, cartridgeEntrySchema] },
    },
    scale: { type: 'integer', minimum: 1, maximum: 100 },
    size: { type: 'string', enum: GEAR_SIZE_NAMES },
    env: envValues,
  },
} as const;

export interface CreateAppBody {
  name: string;
  cartridges: CartridgeEntry[];
  scale?: number;
  size?: GearSize;
  env?: Record<string, string>;
}

export const addCartridgeSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['cartridge'],
  properties: { cartridge: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;

export const actionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['action'],
  properties: { action: { type: 'string', enum: ['start', 'stop', 'restart', 'reload'] } },
} as const;

export type AppAction = 'start' | 'stop' | 'restart' | 'reload';

/** JSON merge patch of the environment: a string sets a variable, null unsets it. */
export const envPatchSchema = {
  type: 'object',
  maxProperties: 200,
  propertyNames: { pattern: envNamePattern, maxLength: 128 },
  additionalProperties: { type: ['string', 'null'], maxLength: 32768 },
} as const;

/** A fixed number of web gears, or bounds for autoscaling with a target of concurrent requests a gear. */
export const scaleSchema = {
  type: 'object',
  oneOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['replicas'],
      properties: {
        cartridge: { type: 'string', minLength: 1 },
        /** A Procfile process type of the running release (`worker`); absent or `web`: the web gears. */
        process: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,30}$' },
        /** A named service of the app (`worker`): its gears, from 0. */
        service: { type: 'string', pattern: SERVICE_NAME },
        replicas: { type: 'integer', minimum: 0, maximum: 100 },
      },
    },
    autoscaleSchema,
    {
      type: 'object',
      additionalProperties: false,
      required: ['service', 'min', 'max'],
      properties: {
        /** A web service of the app, autoscaled between min and max gears by its own traffic. */
        service: { type: 'string', pattern: SERVICE_NAME },
        ...autoscaleSchema.properties,
      },
    },
  ],
} as const;

export type ScaleBody =
  { cartridge?: string; process?: string; service?: string; replicas: number } | { min: number; max: number; targetConcurrency?: number; service?: string };

export const patchAppSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    idleAfterSeconds: { type: ['integer', 'null'], minimum: 1, maximum: 30 * 24 * 3600 },
    /** The web gears' own health check (`{path, status, timeoutSeconds}`); null: the web cartridge's again. */
    health: { oneOf: [appHealthSchema, { type: 'null' }] },
  },
} as const;

export type PatchAppBody = { idleAfterSeconds?: number | null; health?: AppHealth | null };

/** `PUT .../security`: what an administrator allows the app's docker-image gears; `{}` is the restricted default. */
export const securitySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    runAsRoot: { type: 'boolean', description: 'run as root (uid 0) whatever user the image names' },
    capabilities: {
      type: 'array',
      uniqueItems: true,
      maxItems: LINUX_CAPABILITIES.length,
      items: { type: 'string', enum: LINUX_CAPABILITIES },
      description: 'capabilities added back after every one is dropped',
    },
    readOnlyRootfs: { type: 'boolean', description: "mount the image's root filesystem read-only" },
  },
} as const;
