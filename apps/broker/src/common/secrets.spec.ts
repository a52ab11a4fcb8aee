import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSecretKey, SecretBox } from './secrets';

describe('secrets at rest', () => {
  const box = new SecretBox(randomBytes(32));

  it('seals a value so that it opens again, differently each time', () => {
    const a = box.seal('s3cret password');
    assert.match(a, /^gs1:/);
    assert.ok(!a.includes('s3cret'));
    assert.notEqual(box.seal('s3cret password'), a);
    assert.equal(box.open(a), 's3cret password');
  });

  it('reads a value written before sealing as it is', () => {
    assert.equal(box.open('plain old value'), 'plain old value');
  });

  it('refuses a sealed value under another key, or altered, saying which key to check', () => {
    const sealed = box.seal('x');
    assert.throws(() => new SecretBox(randomBytes(32)).open(sealed), /does not open with this secret key/);
    const altered = sealed.slice(0, -4) + (sealed.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    assert.throws(() => box.open(altered), /does not open/);
  });

  it('makes a key file once, readable by its owner only, and keeps it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gs-key-'));
    const key = loadSecretKey(undefined, dir);
    assert.equal(key.length, 32);
    assert.equal(statSync(join(dir, 'secret.key')).mode & 0o777, 0o600);
    assert.deepEqual(loadSecretKey(undefined, dir), key);
    rmSync(dir, { recursive: true, force: true });
  });
});
