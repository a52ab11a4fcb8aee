import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/**
 * Checks a `.tar.gz` of a source tree before anything unpacks it: every entry must stay inside the tree. Absolute
 * paths, `..` components, links that point outside, devices and FIFOs are refused, each named with its rule.
 */

export interface ArchiveProblem {
  entry: string;
  rule: string;
  message: string;
}

export class ArchiveError extends Error {
  override name = 'ArchiveError';
  /** Every entry refused, when the whole archive could be read: this error's own fields name the first. */
  readonly problems: ArchiveProblem[];
  constructor(
    readonly entry: string,
    readonly rule: string,
    message: string,
    problems?: ArchiveProblem[],
  ) {
    super(message);
    this.problems = problems ?? [{ entry, rule, message }];
  }
}

/** One error for the entries refused while reading on: the first names it, and the message says them all. */
function allOf(found: ArchiveError[]): ArchiveError {
  if (found.length === 1) return found[0];
  const problems = found.map((e) => ({ entry: e.entry, rule: e.rule, message: e.message }));
  return new ArchiveError(found[0].entry, found[0].rule, problems.map((p) => p.message).join('; '), problems);
}

export interface ArchiveSummary {
  files: number;
  bytes: number;
  /** Paths of every regular file, relative to the tree's root. */
  paths: string[];
  /** Small text files the platform reads before building: gearshift.yml, a compose file, the Procfile. */
  texts: Record<string, string>;
}

const BLOCK = 512;
const TEXTS = new Set(['gearshift.yml', 'gearshift.yaml', 'Procfile', 'compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml']);
/** The Procfile of a folder a named service may be built from (a few levels down), read like the root's. */
const FOLDER_PROCFILE = /^([^/]+\/){1,3}Procfile$/;
/** At most this many texts are kept from one archive. */
const MAX_TEXTS = 64;
const isText = (path: string, kept: number) => TEXTS.has(path) || (FOLDER_PROCFILE.test(path) && kept < MAX_TEXTS);

function cString(buf: Buffer, start: number, length: number): string {
  const slice = buf.subarray(start, start + length);
  const end = slice.indexOf(0);
  return slice.subarray(0, end === -1 ? slice.length : end).toString('utf8');
}

function octal(buf: Buffer, start: number, length: number): number {
  // GNU base-256 for sizes over 8 GiB: far above any limit here, so refused as too large.
  if (buf[start] & 0x80) return Number.MAX_SAFE_INTEGER;
  const text = cString(buf, start, length).trim();
  return text ? parseInt(text, 8) : 0;
}

/** pax extended header records: "<length> <key>=<value>\n". */
function paxRecords(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const space = data.indexOf(0x20, i);
    if (space === -1) break;
    const len = parseInt(data.subarray(i, space).toString('ascii'), 10);
    if (!len) break;
    const record = data.subarray(space + 1, i + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    i += len;
  }
  return out;
}

/** The entry's path inside the tree, or an ArchiveError saying why it would leave it. */
export function safeEntryPath(raw: string): string {
  if (raw.includes('\0')) throw new ArchiveError(raw, 'no-nul', `entry "${raw}" has a NUL byte in its name`);
  if (raw.startsWith('/')) throw new ArchiveError(raw, 'relative-path', `entry "${raw}" has an absolute path`);
  if (raw.split('/').includes('..')) throw new ArchiveError(raw, 'no-parent', `entry "${raw}" has a ".." component`);
  const path = posix.normalize(raw).replace(/\/+$/, '');
  return path === '.' ? '' : path.replace(/^\.\//, '');
}

function checkLink(path: string, target: string, kind: 'symlink' | 'hardlink'): void {
  if (target.startsWith('/')) throw new ArchiveError(path, 'link-inside', `${kind} "${path}" points to the absolute path "${target}"`);
  const base = kind === 'symlink' ? posix.dirname(path) : '';
  const resolved = posix.normalize(posix.join(base, target));
  if (resolved === '..' || resolved.startsWith('../')) {
    throw new ArchiveError(path, 'link-inside', `${kind} "${path}" points to "${target}", outside the source tree`);
  }
}

/** Reads exact byte counts from the gunzipped stream, holding no more than what one read asks for. */
class TarReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private done = false;
  /** Bytes unpacked so far: what the archive would take on disk. */
  total = 0;

  constructor(
    private readonly source: AsyncIterator<Buffer>,
    private readonly maxTotal: number,
    private readonly maxBytes: number,
  ) {}

  private async fill(n: number): Promise<void> {
    while (this.buffered < n && !this.done) {
      const next = await this.source.next();
      if (next.done) {
        this.done = true;
        break;
      }
      this.total += next.value.length;
      if (this.total > this.maxTotal) throw new ArchiveError('', 'max-size', `the archive unpacks to more than ${Math.round(this.maxBytes / 1024 / 1024)} MB`);
      this.chunks.push(next.value);
      this.buffered += next.value.length;
    }
  }

  /** The next `n` bytes (fewer only at the end of the stream). */
  async read(n: number): Promise<Buffer> {
    await this.fill(n);
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const out = all.subarray(0, Math.min(n, all.length));
    const rest = all.subarray(out.length);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }

  /** Reads to the end, keeping nothing: a gzip stream is known whole (its checksum matched) only at its end. */
  async drain(): Promise<void> {
    while (!this.done) {
      this.chunks = [];
      this.buffered = 0;
      await this.fill(1);
    }
    this.chunks = [];
    this.buffered = 0;
  }

  /** Passes over `n` bytes without keeping them; false when the stream ended first. */
  async skip(n: number): Promise<boolean> {
    let left = n;
    while (left > 0) {
      await this.fill(Math.min(left, 64 * 1024));
      if (this.buffered === 0) return false;
      const taken = await this.read(Math.min(left, this.buffered));
      left -= taken.length;
    }
    return true;
  }
}

/** Long names, long link targets and pax records are a few KB; larger ones are not read into memory. */
const MAX_META = 1024 * 1024;

/**
 * Reads the whole archive (gzip, then ustar/pax/GNU tar) as a stream and returns what it holds. `maxBytes` bounds
 * the unpacked size, so a small archive cannot unpack into a huge tree; the unpacked tar is never held in memory,
 * only one header (or a small file the platform reads) at a time.
 */
export async function inspectArchive(gz: Buffer | Readable, maxBytes: number): Promise<ArchiveSummary> {
  const gunzip = createGunzip();
  const source = Buffer.isBuffer(gz) ? Readable.from([gz]) : gz;
  source.on('error', (err) => gunzip.destroy(err));
  source.pipe(gunzip);
  const reader = new TarReader(gunzip[Symbol.asyncIterator](), maxBytes + 64 * BLOCK, maxBytes);
  try {
    return await readTar(reader, maxBytes);
  } catch (err) {
    if (err instanceof ArchiveError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (typeof e?.code === 'string' && e.code.startsWith('Z_'))
      throw new ArchiveError('', 'gzip', `the body is not a gzip-compressed tar archive (${e.message})`);
    throw err;
  } finally {
    source.unpipe(gunzip);
    gunzip.destroy();
    if (!Buffer.isBuffer(gz)) source.resume();
  }
}

async function readTar(reader: TarReader, maxBytes: number): Promise<ArchiveSummary> {
  const summary: ArchiveSummary = { files: 0, bytes: 0, paths: [], texts: {} };
  // A link that leaves the tree or a device is refused once the whole archive is read, with every other such entry:
  // nothing of theirs is unpacked, and one push learns of all of them. A path that leaves the tree stops the reading.
  const refused: ArchiveError[] = [];
  const refuseOn = (check: () => void) => {
    try {
      check();
    } catch (err) {
      if (!(err instanceof ArchiveError)) throw err;
      refused.push(err);
    }
  };
  let offset = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Record<string, string> = {};
  for (;;) {
    const header = await reader.read(BLOCK);
    if (header.length === 0) break;
    if (header.length < BLOCK) throw new ArchiveError('', 'tar', 'the archive is truncated');
    if (header.every((b) => b === 0)) break;
    const magic = header.subarray(257, 262).toString('ascii');
    if (magic !== 'ustar') throw new ArchiveError('', 'tar', `the archive is not a tar file (no ustar header at byte ${offset})`);
    const type = String.fromCharCode(header[156] || 0x30);
    const size = octal(header, 124, 12);
    if (size > maxBytes) throw new ArchiveError('', 'max-size', `the archive unpacks to more than ${Math.round(maxBytes / 1024 / 1024)} MB`);
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    offset += BLOCK + padded;

    const isMeta = type === 'x' || type === 'L' || type === 'K';
    if (isMeta && size > MAX_META) throw new ArchiveError('', 'tar', `the archive has a ${size}-byte extended header; at most ${MAX_META} bytes are read`);
    // Regular files are read only when the platform needs their text (gearshift.yml, the Procfile); the rest is passed over.
    let data: Buffer | undefined;
    const prefix = cString(header, 345, 155);
    const headerName = prefix ? `${prefix}/${cString(header, 0, 100)}` : cString(header, 0, 100);
    const wantsText =
      (type === '0' || type === '7') && size <= 65536 && isText((pax.path ?? longName ?? headerName).replace(/^\.\//, ''), Object.keys(summary.texts).length);
    if (isMeta || wantsText) {
      const block = await reader.read(padded);
      if (block.length < padded) throw new ArchiveError('', 'tar', 'the archive is truncated');
      data = block.subarray(0, size);
    } else if (!(await reader.skip(padded))) {
      throw new ArchiveError('', 'tar', 'the archive is truncated');
    }

    if (type === 'x') {
      pax = paxRecords(data!);
      continue;
    }
    if (type === 'g') continue;
    if (type === 'L') {
      longName = cString(data!, 0, data!.length);
      continue;
    }
    if (type === 'K') {
      longLink = cString(data!, 0, data!.length);
      continue;
    }
    const rawName = pax.path ?? longName ?? headerName;
    const linkName = pax.linkpath ?? longLink ?? cString(header, 157, 100);
    pax = {};
    longName = undefined;
    longLink = undefined;

    const path = safeEntryPath(rawName);
    switch (type) {
      case '0':
      case '7':
        summary.files += 1;
        summary.bytes += size;
        if (summary.bytes > maxBytes) throw new ArchiveError(path, 'max-size', `the archive unpacks to more than ${Math.round(maxBytes / 1024 / 1024)} MB`);
        summary.paths.push(path);
        if (data && isText(path, Object.keys(summary.texts).length)) summary.texts[path] = data.toString('utf8');
        break;
      case '5':
        break;
      case '2':
        refuseOn(() => checkLink(path, linkName, 'symlink'));
        break;
      case '1':
        refuseOn(() => {
          safeEntryPath(linkName);
          checkLink(path, linkName, 'hardlink');
        });
        break;
      default:
        refused.push(
          new ArchiveError(
            path,
            'regular-files',
            `entry "${path}" is a ${type === '3' || type === '4' ? 'device' : type === '6' ? 'FIFO' : `type ${type}`} entry; only files, directories and links are allowed`,
          ),
        );
    }
  }
  if (refused.length > 0) throw allOf(refused);
  if (summary.files === 0) throw new ArchiveError('', 'not-empty', 'the archive holds no files');
  await reader.drain();
  return summary;
}
