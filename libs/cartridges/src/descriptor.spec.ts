import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDescriptor } from './descriptor';
import { importCompose } from './compose';
import type { SchemaViolationError } from './validation';

describe('descriptor text no value may hold', () => {
  it('refuses a NUL character written as an escape, naming the field', () => {
    assert.throws(
      () => parseDescriptor('name: shop\ncartridges: [nodejs-18]\nenv: { A: "a\\0b" }\n'),
      (err: SchemaViolationError) => {
        assert.deepEqual(err.violations, [{ pointer: '/env/A', rule: 'no-nul', message: 'must not contain NUL characters' }]);
        return true;
      },
    );
  });

  it('refuses flow collections nested past the limit before parsing them', () => {
    assert.throws(
      () => parseDescriptor(`name: shop\ncartridges: ${'['.repeat(5000)}`),
      (err: SchemaViolationError) => {
        assert.equal(err.violations[0].rule, 'yaml-depth');
        return true;
      },
    );
  });
});

describe('compose text no value may hold', () => {
  it('blocks a compose file with a NUL character, naming where', () => {
    const imported = importCompose('services:\n  web:\n    image: nginx\n    environment: { A: "x\\0y" }\n');
    assert.deepEqual(imported.blockers, [{ pointer: '/services/web/environment/A', reason: 'must not contain NUL characters' }]);
  });
});
