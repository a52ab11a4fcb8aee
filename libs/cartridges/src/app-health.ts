import type { FromSchema } from 'json-schema-to-ts';
import { healthPathPattern } from './manifest.schema';

/**
 * An app's own health check for its web gears, as gearshift.yml and the API take it: `{path: /ready, status: 200}`.
 * Each field given replaces the web cartridge's; a path without a status passes any status below 400, and
 * `status: any` passes any answer at all.
 */
export const appHealthSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    path: { type: 'string', pattern: healthPathPattern, maxLength: 200 },
    status: {
      oneOf: [
        { type: 'integer', minimum: 100, maximum: 599 },
        { type: 'string', const: 'any' },
      ],
    },
    /** How long a new gear has to pass it (a slow start, a JVM warming up). */
    timeoutSeconds: { type: 'integer', minimum: 1, maximum: 600 },
  },
} as const;

export type AppHealth = FromSchema<typeof appHealthSchema>;
