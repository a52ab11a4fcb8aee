import type Ajv from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';

/** One broken rule in a document: where (a JSON pointer), which rule, and a sentence a person can act on. */
export interface Violation {
  pointer: string;
  rule: string;
  message: string;
}

export class SchemaViolationError extends Error {
  constructor(
    readonly subject: string,
    readonly violations: Violation[],
  ) {
    super(`${subject}: ${violations.map((v) => `${v.pointer || '/'} ${v.message}`).join('; ')}`);
    this.name = 'SchemaViolationError';
  }
}

let instance: Ajv | undefined;

/** The one ajv instance, made on first use so that processes which never validate do not load it. */
export function ajv(): Ajv {
  if (!instance) {
    const AjvClass = (require('ajv') as { default: typeof Ajv }).default;
    instance = new AjvClass({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
  }
  return instance;
}

/** Turns ajv's errors into violations that name the field and the rule, dropping the noise `oneOf` adds. */
export function toViolations(errors: ErrorObject[] | null | undefined): Violation[] {
  const out: Violation[] = [];
  const seen = new Set<string>();
  for (const e of errors ?? []) {
    let pointer = e.instancePath;
    let message: string;
    if (e.propertyName !== undefined && e.keyword !== 'propertyNames') {
      // A rule on the names of an object's keys (env variable names): point at the bad key.
      pointer = `${pointer}/${e.propertyName}`;
      const pattern = (e.params as { pattern?: string }).pattern;
      message = pattern ? `is not an allowed name: names must match ${pattern}` : `is not an allowed name: ${e.message}`;
      out.push({ pointer, rule: 'propertyNames', message });
      continue;
    }
    if (e.keyword === 'propertyNames') continue;
    switch (e.keyword) {
      case 'required':
        pointer = `${pointer}/${(e.params as { missingProperty: string }).missingProperty}`;
        message = 'is required';
        break;
      case 'additionalProperties':
        pointer = `${pointer}/${(e.params as { additionalProperty: string }).additionalProperty}`;
        message = 'is not a known field';
        break;
      case 'enum':
        message = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
        break;
      case 'pattern':
        message = `must match ${(e.params as { pattern: string }).pattern}`;
        break;
      case 'oneOf':
        message = 'must have exactly one of the alternative fields';
        break;
      default:
        message = e.message ?? e.keyword;
    }
    const key = `${pointer}|${e.keyword}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ pointer, rule: e.keyword, message });
  }
  // A missing field inside one branch of a oneOf is reported by the oneOf itself; keep the clearer line only.
  return out.filter((v) => !(v.rule === 'required' && out.some((o) => o.rule === 'oneOf' && v.pointer.startsWith(`${o.pointer}/`) && v.pointer.split('/').length === o.pointer.split('/').length + 1)));
}

/** Validates `value` and returns it typed, or throws a SchemaViolationError naming each bad field. */
export function check<T>(validate: ValidateFunction, value: unknown, subject: string): T {
  if (!validate(value)) throw new SchemaViolationError(subject, toViolations(validate.errors));
  return value as T;
}
