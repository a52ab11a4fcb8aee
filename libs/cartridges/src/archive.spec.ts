import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ArchiveError, inspectArchive } from './archive';

/** Writes one ustar entry by hand, so that the test can make entries no careful tool would. */
function entry(name: string, opts: { type?: string; body?: string; link?: string } = {}): Buffer {
  const body = Buffer.from(opts.body ?? '');
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(body.length.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write(opts.type ?? '0', 156);
  if (opts.link) h.write(opts.link, 157, 100, 'utf8');
  h.write('ustar\0', 257);
  h.write('00', 263);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  const padded = Buffer.alloc(Math.ceil(body.length / 512) * 512);
  body.copy(padded);
  return Buffer.concat([h, padded]);
}

const archive = (...entries: Buffer[]) => gzipSync(Buffer.concat([...entries, Buffer.alloc(1024)]));

function refused(gz: Buffer, rule: string, pattern: RegExp, maxBytes = 1 << 20): void {
  assert.throws(() => inspectArchive(gz, maxBytes), (err: unknown) => {
    assert.ok(err instanceof ArchiveError);
    assert.equal(err.rule, rule);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('source archives', () => {
  it('reads a tree made by tar, with its gearshift.yml', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gs-archive-'));
    try {
      mkdirSync(join(dir, 'src/lib'), { recursive: true });
      writeFileSync(join(dir, 'package.json'), '{}');
      writeFileSync(join(dir, 'src/lib/a.js'), 'x');
      writeFileSync(join(dir, 'gearshift.yml'), 'name: web\n');
      symlinkSync('lib/a.js', join(dir, 'src/link.js'));
      execFileSync('tar', ['-czf', join(dir, '..', 'gs-archive-test.tgz'), '-C', dir, '.']);
      const summary = inspectArchive(readFileSync(join(dir, '..', 'gs-archive-test.tgz')), 1 << 20);
      assert.deepEqual(summary.paths.sort(), ['gearshift.yml', 'package.json', 'src/lib/a.js']);
      assert.equal(summary.texts['gearshift.yml'], 'name: web\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(join(dir, '..', 'gs-archive-test.tgz'), { force: true });
    }
  });

  it('refuses entries that leave the tree', () => {
    refused(archive(entry('../evil', { body: 'x' })), 'no-parent', /"\.\.\/evil" has a "\.\." component/);
    refused(archive(entry('a/../../evil')), 'no-parent', /\.\./);
    refused(archive(entry('/etc/passwd')), 'relative-path', /absolute path/);
    refused(archive(entry('link', { type: '2', link: '/etc/shadow' })), 'link-inside', /absolute path/);
    refused(archive(entry('a/link', { type: '2', link: '../../x' })), 'link-inside', /outside the source tree/);
    refused(archive(entry('hard', { type: '1', link: '../x' })), 'no-parent', /\.\./);
    refused(archive(entry('dev', { type: '3' })), 'regular-files', /device/);
  });

  it('allows links that stay inside', () => {
    const s = inspectArchive(archive(entry('a/b.txt', { body: 'hi' }), entry('a/c', { type: '2', link: '../a/b.txt' })), 1 << 20);
    assert.deepEqual(s.paths, ['a/b.txt']);
  });

  it('bounds the unpacked size and refuses what is not a tar.gz', () => {
    refused(archive(entry('big', { body: 'x'.repeat(3000) })), 'max-size', /unpacks to more than/, 1000);
    refused(archive(...Array.from({ length: 40 }, (_, i) => entry(`f${i}`, { body: 'x'.repeat(1000) }))), 'max-size', /unpacks to more than/, 30000);
    refused(Buffer.from('plain text'), 'gzip', /not a gzip/);
    refused(gzipSync(Buffer.from('x'.repeat(600))), 'tar', /not a tar/);
    refused(archive(), 'not-empty', /no files/);
  });
});
