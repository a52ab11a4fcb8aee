import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gitPathProblem } from './git-backend';

describe('git paths', () => {
  it('lets through what smart HTTP asks for', () => {
    for (const rest of ['/', '/info/refs', '/git-upload-pack', '/git-receive-pack', '/HEAD', '/objects/ab/cdef0123', '/objects/pack/pack-1a.pack']) {
      assert.equal(gitPathProblem(rest), undefined, rest);
    }
  });

  it('refuses dot segments, escaped or not, and backslashes, which could name another repository', () => {
    for (const rest of ['/../other.git/info/refs', '/./info/refs', '/%2e%2e/other.git/info/refs', '/%2E./x', '/..\\other.git/info/refs', '/..', '/.hidden']) {
      assert.ok(gitPathProblem(rest), rest);
    }
  });
});
