import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BACKUP_FORMAT, BackupRefused, checkManifest } from './manifest';

const digest = 'a'.repeat(64);
const good = () => ({
  format: BACKUP_FORMAT,
  gearshift: { version: '0.1.0', commit: null },
  migration: 'Teams1733300000000',
  createdAt: '2026-11-29T00:00:00.000Z',
  instance: 'gearshift',
  database: 'gearshift',
  secretKeyFrom: 'file',
  images: [],
  members: [
    { path: 'database.dump', bytes: 10, sha256: digest },
    { path: 'data/secret.key', bytes: 45, sha256: digest },
  ],
});
const known = ['InitialSchema1732300000000', 'Teams1733300000000'];

describe('checkManifest', () => {
  it('takes a manifest of this format whose schema this checkout knows', () => {
    assert.equal(checkManifest(good(), known).migration, 'Teams1733300000000');
  });

  it('refuses a newer format', () => {
    assert.throws(
      () => checkManifest({ ...good(), format: BACKUP_FORMAT + 1 }, known),
      (e: Error) => e instanceof BackupRefused && /newer than this checkout/.test(e.message),
    );
  });

  it('refuses a database migrated by a newer Gearshift', () => {
    assert.throws(
      () => checkManifest({ ...good(), migration: 'Future1999999999999' }, known),
      /migration Future1999999999999, which this checkout does not know/,
    );
  });

  it('refuses a manifest that is not a backup, or lacks the database or the key', () => {
    assert.throws(() => checkManifest({ hello: 1 }, known), /not a Gearshift backup/);
    assert.throws(() => checkManifest({ ...good(), members: [good().members[0]] }, known), /does not list data\/secret.key/);
    assert.throws(() => checkManifest({ ...good(), members: [...good().members, { path: '../x', bytes: 1, sha256: digest }] }, known), /outside the archive/);
    assert.throws(
      () => checkManifest({ ...good(), members: [{ path: 'database.dump', bytes: 1, sha256: 'nope' }] }, known),
      /without a path, size and SHA-256/,
    );
  });
});
