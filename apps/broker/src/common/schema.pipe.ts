import { PipeTransform } from '@nestjs/common';
import { ajv, check } from '@gearshift/cartridges';
import type { ValidateFunction } from 'ajv';
import { GearshiftError } from './errors';

/** Validates a request body against a JSON Schema with ajv; the same schema documents the body in OpenAPI. */
export class SchemaPipe<T> implements PipeTransform<unknown, T> {
  private readonly validate: ValidateFunction;

  constructor(
    schema: object,
    private readonly subject = 'request body',
  ) {
    this.validate = ajv().compile(schema);
  }

  transform(value: unknown): T {
    // Only a parsed JSON object reaches ajv: with allErrors, a string or the bytes of a buffer checked against an
    // object schema could make one error per character.
    if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value) || Buffer.isBuffer(value))) {
      throw new GearshiftError('invalid_input', 'the body must be a JSON object (Content-Type: application/json)', [
        { pointer: '', rule: 'type', message: 'must be a JSON object' },
      ]);
    }
    return check<T>(this.validate, value ?? {}, this.subject);
  }
}
