import type Ajv from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { isImageId, isImageReference } from './image-reference';

/**
 * How many values (strings, numbers, objects, ...) a document checked against a schema may hold. Far above what
 * any app, descriptor or manifest needs, and low enough that ajv, which reports every bad value, stays small.
 */
export const MAX_VALUES = 10_000;

/** How many violations an answer lists; the rest are counted, so a huge broken body cannot make a huge answer. */
export const MAX_VIOLATIONS = 20;

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
    /** Violations found beyond those listed. */
    readonly more = 0,
  ) {
    super(`${subject}: ${violations.map((v) => `${v.pointer || '/'} ${v.message}`).join('; ')}${more > 0 ? `; and ${more} more` : ''}`);
    this.name = 'SchemaViolationError';
  }
}

let instance: Ajv | undefined;

/** The one ajv instance, made on first use so that processes which never validate do not load it. */
export function ajv(): Ajv {
  if (!instance) {
    const AjvClass = (require('ajv') as { default: typeof Ajv }).default;
    instance = new AjvClass({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
    // Strings that reach Docker as image names are read with Docker's own grammar, not a loose pattern.
    // An image id passes the format: the broker refuses it by rule (image_source), saying to name a repository and tag.
    instance.addFormat('image-reference', { type: 'string', validate: (v: string) => isImageReference(v) || isImageId(v) });
  }
  return instance;
}

/**
 * Turns ajv's errors into violations that name the field and the rule, dropping the noise `oneOf` adds. At most
 * `max` are listed; `more` counts the others (ajv reports every bad item of a long array, one error each).
 */
export function toViolations(errors: ErrorObject[] | null | undefined, max = MAX_VIOLATIONS): { violations: Violation[]; more: number } {
  const out: Violation[] = [];
  const seen = new Set<string>();
  // Lines about alternatives ("must be string" from the string branch of [name, {name, ...}]) that are noise when
  // the value took another branch and broke a rule inside it: that deeper line says what is wrong.
  const alternatives = new Set<Violation>();
  let more = 0;
  for (const e of errors ?? []) {
    if (out.length >= max) {
      if (e.keyword !== 'propertyNames') more += 1;
      continue;
    }
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
      case 'format':
        message =
          (e.params as { format?: string }).format === 'image-reference'
            ? 'must be an image reference: [registry[:port]/]name[:tag][@digest], with a lowercase name and no URL scheme'
            : `must be ${(e.params as { format?: string }).format}`;
        break;
      default:
        message = e.message ?? e.keyword;
    }
    const key = `${pointer}|${e.keyword}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ pointer, rule: e.keyword, message });
    if (e.keyword === 'type' && /\/(oneOf|anyOf)\/\d+\/type$/.test(e.schemaPath)) alternatives.add(out[out.length - 1]);
    if (e.keyword === 'oneOf' || e.keyword === 'anyOf') alternatives.add(out[out.length - 1]);
  }
  // A missing field inside one branch of a oneOf is reported by the oneOf itself; keep the clearer line only.
  const deeper = (v: Violation) => out.some((o) => !alternatives.has(o) && o.rule !== 'required' && o.pointer.startsWith(`${v.pointer}/`));
  // A field one branch of a oneOf knows and another does not: the known branch's line says what is wrong with its
  // value ({"replicas": 100000} is too large, not also "not a known field").
  const knownElsewhere = (v: Violation) => v.rule === 'additionalProperties' && out.some((o) => o.pointer === v.pointer && o.rule !== v.rule);
  const violations = out.filter(
    (v) =>
      !(
        v.rule === 'required' &&
        out.some((o) => o.rule === 'oneOf' && v.pointer.startsWith(`${o.pointer}/`) && v.pointer.split('/').length === o.pointer.split('/').length + 1)
      ) &&
      !(alternatives.has(v) && deeper(v)) &&
      !knownElsewhere(v),
  );
  return { violations, more };
}

/** Validates `value` and returns it typed, or throws a SchemaViolationError naming each bad field (the first 20). */
export function check<T>(validate: ValidateFunction, value: unknown, subject: string): T {
  if (holdsMoreValuesThan(value, MAX_VALUES)) {
    throw new SchemaViolationError(subject, [{ pointer: '', rule: 'max-values', message: `holds more than ${MAX_VALUES} values` }]);
  }
  if (!validate(value)) {
    const { violations, more } = toViolations(validate.errors);
    // ajv's own list can be as long as the document; drop it now rather than keep it until the next validation.
    validate.errors = null;
    throw new SchemaViolationError(subject, violations, more);
  }
  return value as T;
}

/** Whether a document holds more than `max` values, counted without recursion and stopping at the limit. */
export function holdsMoreValuesThan(value: unknown, max: number): boolean {
  const stack: unknown[] = [value];
  let count = 0;
  while (stack.length > 0) {
    const v = stack.pop();
    if (++count > max) return true;
    if (v !== null && typeof v === 'object') for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push(child);
  }
  return false;
}
