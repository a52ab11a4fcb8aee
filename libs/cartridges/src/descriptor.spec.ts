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

describe('names a descriptor gives its cartridges on the app network', () => {
  const violations = (text: string) => {
    try {
      parseDescriptor(text);
      return [];
    } catch (err) {
      return (err as SchemaViolationError).violations.map((v) => `${v.pointer} ${v.rule}`);
    }
  };

  it('takes DNS labels as aliases of any cartridge, and anonymous volumes (a path, no name)', () => {
    const d = parseDescriptor(
      'name: shop\ncartridges:\n  - { name: postgresql-17, aliases: [postgres, db] }\n  - { name: docker-image, image: team/web:1, volumes: [{ path: /app/node_modules }] }\n',
    );
    assert.deepEqual(d.cartridges[0], { name: 'postgresql-17', aliases: ['postgres', 'db'] });
  });

  it("refuses a name that is not a DNS label, or that is already a cartridge's, a service's or another alias", () => {
    assert.deepEqual(violations('name: shop\ncartridges: [{ name: redis-7, aliases: [My_Cache] }]\n'), ['/cartridges/0/aliases/0 pattern']);
    assert.deepEqual(
      violations(
        'name: shop\ncartridges:\n  - { name: postgresql-17, aliases: [redis-7, db] }\n  - { name: redis-7, aliases: [db] }\nservices:\n  api: { kind: web, image: team/api:1 }\n  db2: { kind: worker, image: team/w:1 }\n',
      ),
      ['/cartridges/0/aliases/0 unique', '/cartridges/1/aliases/0 unique'],
    );
    assert.deepEqual(violations('name: shop\ncartridges: [{ name: redis-7, aliases: [api] }]\nservices:\n  api: { kind: web, image: team/api:1 }\n'), [
      '/cartridges/0/aliases/0 unique',
    ]);
  });
});
