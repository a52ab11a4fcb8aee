import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
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

async function refused(gz: Buffer, rule: string, pattern: RegExp, maxBytes = 1 << 20): Promise<void> {
  await assert.rejects(inspectArchive(gz, maxBytes), (err: unknown) => {
    assert.ok(err instanceof ArchiveError);
    assert.equal(err.rule, rule);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('source archives', () => {
  it('reads a tree made by tar, with its gearshift.yml', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gs-archive-'));
    try {
      mkdirSync(join(dir, 'src/lib'), { recursive: true });
      writeFileSync(join(dir, 'package.json'), '{}');
      writeFileSync(join(dir, 'src/lib/a.js'), 'x');
      writeFileSync(join(dir, 'gearshift.yml'), 'name: web\n');
      writeFileSync(join(dir, 'src/Procfile'), 'release: ./migrate\n');
      writeFileSync(join(dir, 'compose.yaml'), 'services: {}\n');
      symlinkSync('lib/a.js', join(dir, 'src/link.js'));
      execFileSync('tar', ['-czf', join(dir, '..', 'gs-archive-test.tgz'), '-C', dir, '.']);
      const summary = await inspectArchive(readFileSync(join(dir, '..', 'gs-archive-test.tgz')), 1 << 20);
      assert.deepEqual(summary.paths.sort(), ['compose.yaml', 'gearshift.yml', 'package.json', 'src/Procfile', 'src/lib/a.js']);
      assert.equal(summary.texts['gearshift.yml'], 'name: web\n');
      // A folder's Procfile and a compose file are read too: named services are built from folders.
      assert.equal(summary.texts['src/Procfile'], 'release: ./migrate\n');
      assert.equal(summary.texts['compose.yaml'], 'services: {}\n');
      assert.equal(summary.texts['package.json'], undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(join(dir, '..', 'gs-archive-test.tgz'), { force: true });
    }
  });

  it('refuses entries that leave the tree', async () => {
    await refused(archive(entry('../evil', { body: 'x' })), 'no-parent', /"\.\.\/evil" has a "\.\." component/);
    await refused(archive(entry('a/../../evil')), 'no-parent', /\.\./);
    await refused(archive(entry('/etc/passwd')), 'relative-path', /absolute path/);
    await refused(archive(entry('link', { type: '2', link: '/etc/shadow' })), 'link-inside', /absolute path/);
    await refused(archive(entry('a/link', { type: '2', link: '../../x' })), 'link-inside', /outside the source tree/);
    await refused(archive(entry('hard', { type: '1', link: '../x' })), 'no-parent', /\.\./);
    await refused(archive(entry('dev', { type: '3' })), 'regular-files', /device/);
  });

  it('refuses every link that leaves the tree and every device at once, the first naming the error', async () => {
    const gz = archive(
      entry('a.txt', { body: 'x' }),
      entry('conf', { type: '2', link: '/etc/app.conf' }),
      entry('dev', { type: '3' }),
      entry('web/up', { type: '2', link: '../../up' }),
    );
    await assert.rejects(inspectArchive(gz, 1 << 20), (err: unknown) => {
      assert.ok(err instanceof ArchiveError);
      assert.equal(err.entry, 'conf');
      assert.deepEqual(
        err.problems.map((p) => [p.entry, p.rule]),
        [
          ['conf', 'link-inside'],
          ['dev', 'regular-files'],
          ['web/up', 'link-inside'],
        ],
      );
      assert.match(
        err.message,
        /^symlink "conf" points to the absolute path "\/etc\/app\.conf"; entry "dev" is a device entry.*; symlink "web\/up" points to "\.\.\/\.\.\/up", outside the source tree$/,
      );
      return true;
    });
  });

  it('allows links that stay inside', async () => {
    const s = await inspectArchive(archive(entry('a/b.txt', { body: 'hi' }), entry('a/c', { type: '2', link: '../a/b.txt' })), 1 << 20);
    assert.deepEqual(s.paths, ['a/b.txt']);
  });

  it('bounds the unpacked size and refuses what is not a tar.gz', async () => {
    await refused(archive(entry('big', { body: 'x'.repeat(3000) })), 'max-size', /unpacks to more than/, 1000);
    await refused(archive(...Array.from({ length: 40 }, (_, i) => entry(`f${i}`, { body: 'x'.repeat(1000) }))), 'max-size', /unpacks to more than/, 30000);
    await refused(Buffer.from('plain text'), 'gzip', /not a gzip/);
    await refused(gzipSync(Buffer.from('x'.repeat(600))), 'tar', /not a tar/);
    await refused(archive(), 'not-empty', /no files/);
  });

  it('reads from a stream, passing over file contents, and refuses a truncated archive', async () => {
    const many = archive(
      ...Array.from({ length: 30 }, (_, i) => entry(`d/f${i}`, { body: 'y'.repeat(100_000) })),
      entry('./gearshift.yml', { body: 'name: x\n' }),
    );
    const s = await inspectArchive(Readable.from([many.subarray(0, 1000), many.subarray(1000)]), 10 << 20);
    assert.equal(s.files, 31);
    assert.equal(s.bytes, 3_000_000 + 8);
    assert.deepEqual(s.texts, { 'gearshift.yml': 'name: x\n' });
    await refused(gzipSync(entry('a', { body: 'x'.repeat(2000) }).subarray(0, 1024)), 'tar', /truncated/);
    await refused(gzipSync(entry('a').subarray(0, 300)), 'tar', /truncated/);
    await refused(many.subarray(0, many.length - 10), 'gzip', /not a gzip/, 10 << 20);
  });

  it('refuses a gzip bomb by what it would unpack to', async () => {
    // One entry that claims 200 MB: refused on its header. Many that add up: refused once the total passes the limit.
    await refused(gzipSync(Buffer.concat([bigHeader('huge', 200 << 20), Buffer.alloc(1 << 20)])), 'max-size', /more than 10 MB/, 10 << 20);
    await refused(archive(...Array.from({ length: 20 }, (_, i) => entry(`f${i}`, { body: '\0'.repeat(1 << 20) }))), 'max-size', /more than 10 MB/, 10 << 20);
  });
});

/** A header that claims `size` bytes, for archives whose data need not follow. */
function bigHeader(name: string, size: number): Buffer {
  const h = entry(name).subarray(0, 512);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  return h;
}
