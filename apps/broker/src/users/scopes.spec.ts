import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { grants, neededScope } from './scopes';

describe('token scopes', () => {
  it('needs read for methods that change nothing and admin for the rest, unless the route declares one', () => {
    assert.equal(neededScope('GET', undefined), 'read');
    assert.equal(neededScope('head', undefined), 'read');
    assert.equal(neededScope('POST', undefined), 'admin');
    assert.equal(neededScope('DELETE', undefined), 'admin');
    assert.equal(neededScope('PATCH', undefined), 'admin');
    assert.equal(neededScope('POST', 'deploy'), 'deploy');
    assert.equal(neededScope('POST', 'read'), 'read');
  });

  it('grants each scope what it includes, and no more', () => {
    const matrix: [string[], Record<'read' | 'deploy' | 'admin', boolean>][] = [
      [['read'], { read: true, deploy: false, admin: false }],
      [['deploy'], { read: true, deploy: true, admin: false }],
      [['admin'], { read: true, deploy: true, admin: true }],
      [['read', 'deploy'], { read: true, deploy: true, admin: false }],
      [[], { read: false, deploy: false, admin: false }],
      [['root', 'everything'], { read: false, deploy: false, admin: false }],
    ];
    for (const [held, expected] of matrix) {
      for (const needed of ['read', 'deploy', 'admin'] as const) {
        assert.equal(grants(held, needed), expected[needed], `${held.join('+') || '(none)'} for ${needed}`);
      }
    }
  });
});
