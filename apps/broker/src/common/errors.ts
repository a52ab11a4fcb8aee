import type { Violation } from '@gearshift/cartridges';

/** The error codes of the API and the HTTP status each maps to; domain code throws codes, never statuses. */
export const ERROR_STATUS = {
  invalid_input: 400,
  unauthorized: 401,
  forbidden: 403,
  insufficient_scope: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  unsupported_media_type: 415,
  rule_violation: 422,
  quota_exceeded: 422,
  capacity_exceeded: 422,
  too_many_requests: 429,
  no_capacity: 503,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class GearshiftError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Violation[] | Record<string, unknown> = [],
    /** Headers the answer carries (Retry-After on a 429). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'GearshiftError';
  }
}

export const notFound = (what: string) => new GearshiftError('not_found', `${what} was not found`);
export const conflict = (message: string, details?: Violation[]) => new GearshiftError('conflict', message, details);
export const invalid = (pointer: string, rule: string, message: string) =>
  new GearshiftError('invalid_input', `${pointer} ${message}`, [{ pointer, rule, message }]);
export const ruleViolation = (pointer: string, rule: string, message: string) => new GearshiftError('rule_violation', message, [{ pointer, rule, message }]);
