import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { redactor } from './redaction';

describe('redaction', () => {
  it('masks secrets in output, longest first, and leaves values too short to be secrets', () => {
    const redact = redactor(['s3cret-pass', 's3cret', 'ab']);
    assert.equal(redact('postgres://u:s3cret-pass@db/x and s3cret and ab'), 'postgres://u:******@db/x and ****** and ab');
  });
});
