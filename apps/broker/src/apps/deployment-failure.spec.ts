import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { failureHeadline } from './deployment-failure';

describe("a failed deployment's headline", () => {
  it("keeps the first line and leaves out the gear's output", () => {
    assert.equal(
      failureHeadline('web stopped with exit code 1 before it passed its health check; it printed: secret=1\nmore output'),
      'web stopped with exit code 1 before it passed its health check',
    );
    assert.equal(failureHeadline('the build failed: step 3 exited with 2\nlog'), 'the build failed: step 3 exited with 2');
    assert.equal(failureHeadline(null), 'it failed');
    assert.equal(failureHeadline('x'.repeat(400)).length, 300);
  });
});
