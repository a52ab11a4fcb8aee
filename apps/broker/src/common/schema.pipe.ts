import { PipeTransform } from '@nestjs/common';
import { ajv, check } from '@gearshift/cartridges';
import type { ValidateFunction } from 'ajv';

/** Validates a request body against a JSON Schema with ajv; the same schema documents the body in OpenAPI. */
export class SchemaPipe<T> implements PipeTransform<unknown, T> {
  private readonly validate: ValidateFunction;

  constructor(schema: object, private readonly subject = 'request body') {
    this.validate = ajv().compile(schema);
  }

  transform(value: unknown): T {
    return check<T>(this.validate, value ?? {}, this.subject);
  }
}
