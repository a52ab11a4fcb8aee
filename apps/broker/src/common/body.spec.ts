import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { valueProblem } from '@gearshift/cartridges';
import { mediaType, urlProblem } from './body';

describe('request bodies', () => {
  it('finds nesting past the limit without recursing, at any depth a body can have', () => {
    assert.equal(valueProblem({ a: [{ b: 1 }] }, 32), undefined);
    const deep = JSON.parse(`${'['.repeat(200_000)}${']'.repeat(200_000)}`);
    assert.deepEqual(valueProblem(deep, 32), { pointer: `/0`.repeat(32), rule: 'max-depth', message: 'nests deeper than 32 levels' });
  });

  it('finds NUL characters in strings and names, by JSON pointer', () => {
    assert.deepEqual(valueProblem({ env: { A: 'x\u0000y' } }, 32), { pointer: '/env/A', rule: 'no-nul', message: 'must not contain NUL characters' });
    assert.deepEqual(valueProblem({ 'a/b~': { 'k\u0000': 1 } }, 32), { pointer: '/a~1b~0/k\u0000', rule: 'no-nul', message: 'is a name with a NUL character' });
    assert.equal(urlProblem('/api/v1/domains/a%00b')?.rule, 'no-nul');
    assert.equal(urlProblem('/api/v1/domains/%ff')?.rule, 'url-encoding');
    assert.equal(urlProblem('/api/v1/domains/%')?.rule, 'url-encoding');
    assert.equal(urlProblem('/api/v1/domains/%C3%BC?wait=1'), undefined);
  });

  it('reads the media type of a Content-Type header without its parameters', () => {
    assert.equal(mediaType('Application/JSON; charset=utf-8'), 'application/json');
    assert.equal(mediaType('application/json;;;'), 'application/json');
    assert.equal(mediaType(undefined), '');
  });
});
