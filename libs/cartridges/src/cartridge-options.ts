import { envNamePattern, healthPathPattern } from './manifest.schema';
import { GEAR_SIZE_NAMES, type GearSize } from './gear-sizes';
import { SERVICE_NAME } from './services';

/**
 * An app's settings for one of its cartridges: `{"name": "redis-7", "size": "medium"}`, or for docker-image the
 * image to run and how: `{"name": "docker-image", "image": "registry:5000/team/api:1.4", "port": 3000}`.
 */
export const cartridgeEntrySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 64 },
    size: { type: 'string', enum: GEAR_SIZE_NAMES },
    // Docker's reference grammar (image-reference.ts), checked by the ajv format of that name.
    image: { type: 'string', format: 'image-reference', maxLength: 600 },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    command: { type: 'array', maxItems: 64, items: { type: 'string', maxLength: 4096 } },
    health: { type: 'string', pattern: healthPathPattern, maxLength: 200 },
    env: {
      type: 'object',
      maxProperties: 200,
      propertyNames: { pattern: envNamePattern, maxLength: 128 },
      additionalProperties: { type: 'string', maxLength: 32768 },
    },
    /**
     * A named volume keeps its data across releases; one without a name is the gear's own, made from its image's
     * content at that path and removed with the gear (a compose file's anonymous volume).
     */
    volumes: {
      type: 'array',
      maxItems: 10,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['path'],
        properties: { name: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,31}$' }, path: { type: 'string', pattern: '^/' } },
      },
    },
    /**
     * More names the cartridge's gears are reached by on the app's network, beside the cartridge's own: a compose
     * file's service name (`postgres`, `redis`) when the service became a catalogue cartridge.
     */
    aliases: { type: 'array', uniqueItems: true, maxItems: 10, items: { type: 'string', pattern: SERVICE_NAME } },
  },
} as const;

export interface CartridgeOptions {
  size?: GearSize;
  image?: string;
  port?: number;
  command?: string[];
  health?: string;
  env?: Record<string, string>;
  volumes?: { name?: string; path: string }[];
  aliases?: string[];
}

export type CartridgeEntry = string | ({ name: string } & CartridgeOptions);

/** The keys only the docker-image cartridge takes. */
export const IMAGE_OPTION_KEYS = ['image', 'port', 'command', 'health', 'env', 'volumes'] as const;

export function entryName(e: CartridgeEntry): string {
  return typeof e === 'string' ? e : e.name;
}

export function entryOptions(e: CartridgeEntry): CartridgeOptions {
  if (typeof e === 'string') return {};
  const { name: _name, ...options } = e;
  return options;
}
