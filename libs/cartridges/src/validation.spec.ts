import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ajv, check, holdsMoreValuesThan, MAX_VIOLATIONS, SchemaViolationError } from './validation';
import { cartridgeEntrySchema } from './cartridge-options';

describe('schema validation', () => {
  const validateList = ajv().compile({ type: 'object', properties: { items: { type: 'array', items: { type: 'string' } } } });

  it('lists the first violations and counts the rest, however many a body breaks', () => {
    const items = Array.from({ length: 9_000 }, (_, i) => i);
    const err = (() => {
      try {
        check(validateList, { items }, 'body');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof SchemaViolationError);
    assert.equal(err.violations.length, MAX_VIOLATIONS);
    assert.equal(err.more, 9_000 - MAX_VIOLATIONS);
    assert.deepEqual(err.violations[0], { pointer: '/items/0', rule: 'type', message: 'must be string' });
    assert.equal(err.violations[MAX_VIOLATIONS - 1].pointer, `/items/${MAX_VIOLATIONS - 1}`);
    assert.match(err.message, /; and 8980 more$/);
    // ajv's own list is dropped once read: it must not stay in memory until the next validation.
    assert.equal(validateList.errors, null);
  });

  it('refuses a document of more than 10,000 values before ajv walks it', () => {
    assert.throws(
      () => check(validateList, { items: Array.from({ length: 200_000 }, () => 1) }, 'body'),
      (e: SchemaViolationError) => e.violations.length === 1 && e.violations[0].rule === 'max-values' && e.more === 0,
    );
    assert.equal(holdsMoreValuesThan({ a: [1, 2, { b: 3 }] }, 6), false);
    assert.equal(holdsMoreValuesThan({ a: [1, 2, { b: 3 }] }, 5), true);
  });

  it('lists every violation, without a count, when there are few', () => {
    assert.throws(
      () => check(validateList, { items: [1, 'a', 2] }, 'body'),
      (e: SchemaViolationError) => e.violations.length === 2 && e.more === 0,
    );
    assert.deepEqual(check(validateList, { items: ['a'] }, 'body'), { items: ['a'] });
  });

  it('reads a docker-image reference with Docker’s grammar and names the field', () => {
    const validate = ajv().compile(cartridgeEntrySchema);
    assert.ok(validate({ name: 'docker-image', image: 'registry:5000/team/api:1.2' }));
    for (const image of ['file:///etc/passwd', 'Team/API', 'http://example.com/x', 'a b']) {
      assert.throws(
        () => check(validate, { name: 'docker-image', image }, 'body'),
        (e: SchemaViolationError) =>
          e.violations.length === 1 &&
          e.violations[0].pointer === '/image' &&
          e.violations[0].rule === 'format' &&
          /image reference/.test(e.violations[0].message),
        image,
      );
    }
  });

  it('names the broken field inside an alternative, not the branch the value did not take', () => {
    const validate = ajv().compile({
      type: 'object',
      properties: { cartridges: { type: 'array', items: { oneOf: [{ type: 'string' }, cartridgeEntrySchema] } } },
    });
    assert.throws(
      () => check(validate, { cartridges: ['static', { name: 'docker-image', image: 'file:///etc/passwd' }] }, 'body'),
      (e: SchemaViolationError) => e.violations.length === 1 && e.violations[0].pointer === '/cartridges/1/image' && e.violations[0].rule === 'format',
    );
    // A value that fits no branch at all still gets the line about the alternatives.
    assert.throws(
      () => check(validate, { cartridges: [7] }, 'body'),
      (e: SchemaViolationError) => e.violations.some((v) => v.pointer === '/cartridges/0' && v.rule === 'oneOf'),
    );
  });

  it('says a value is out of range, not also that its field is unknown to the other branch of a oneOf', () => {
    const validate = ajv().compile({
      type: 'object',
      oneOf: [
        { type: 'object', additionalProperties: false, required: ['replicas'], properties: { replicas: { type: 'integer', maximum: 100 } } },
        { type: 'object', additionalProperties: false, required: ['min', 'max'], properties: { min: { type: 'integer' }, max: { type: 'integer' } } },
      ],
    });
    assert.throws(
      () => check(validate, { replicas: 100000 }, 'body'),
      (e: SchemaViolationError) =>
        e.violations.length === 1 && e.violations[0].pointer === '/replicas' && e.violations[0].rule === 'maximum' && !/not a known field/.test(e.message),
    );
    // A field no branch knows is still named.
    assert.throws(
      () => check(validate, { replicas: 1, colour: 'red' }, 'body'),
      (e: SchemaViolationError) => e.violations.some((v) => v.pointer === '/colour' && v.rule === 'additionalProperties'),
    );
  });
});
