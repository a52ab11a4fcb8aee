import { posix } from 'node:path';
import { gunzipSync } from 'node:zlib';

/**
 * Checks a `.tar.gz` of a source tree before anything unpacks it: every entry must stay inside the tree. Absolute
 * paths, `..` components, links that point outside, devices and FIFOs are refused, each named with its rule.
 */

export class ArchiveError extends Error {
  override name = 'ArchiveError';
  constructor(
    readonly entry: string,
    readonly rule: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ArchiveSummary {
  files: number;
  bytes: number;
  /** Paths of every regular file, relative to the tree's root. */
  paths: string[];
  /** Small text files the platform reads before building: gearshift.yml. */
  texts: Record<string, string>;
}

const BLOCK = 512;
const TEXTS = new Set(['gearshift.yml', 'gearshift.yaml']);

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

/**
 * Reads the whole archive (gzip, then ustar/pax/GNU tar) and returns what it holds. `maxBytes` bounds the unpacked
 * size, so a small archive cannot unpack into a huge tree.
 */
export function inspectArchive(gz: Buffer, maxBytes: number): ArchiveSummary {
  let tar: Buffer;
  try {
    tar = gunzipSync(gz, { maxOutputLength: maxBytes + 64 * BLOCK });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_BUFFER_TOO_LARGE' || /too large|maxOutputLength/i.test(e.message)) {
      throw new ArchiveError('', 'max-size', `the archive unpacks to more than ${Math.round(maxBytes / 1024 / 1024)} MB`);
    }
    throw new ArchiveError('', 'gzip', `the body is not a gzip-compressed tar archive (${e.message})`);
  }
  const summary: ArchiveSummary = { files: 0, bytes: 0, paths: [], texts: {} };
  let offset = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Record<string, string> = {};
  let sawEnd = false;
  while (offset + BLOCK <= tar.length) {
    const header = tar.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) {
      sawEnd = true;
      break;
    }
    const magic = header.subarray(257, 262).toString('ascii');
    if (magic !== 'ustar') throw new ArchiveError('', 'tar', `the archive is not a tar file (no ustar header at byte ${offset})`);
    const type = String.fromCharCode(header[156] || 0x30);
    const size = octal(header, 124, 12);
    const dataStart = offset + BLOCK;
    const dataEnd = dataStart + size;
    if (dataEnd > tar.length) throw new ArchiveError('', 'tar', 'the archive is truncated');
    const data = tar.subarray(dataStart, dataEnd);
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;

    if (type === 'x') {
      pax = paxRecords(data);
      continue;
    }
    if (type === 'g') continue;
    if (type === 'L') {
      longName = cString(data, 0, data.length);
      continue;
    }
    if (type === 'K') {
      longLink = cString(data, 0, data.length);
      continue;
    }
    const prefix = cString(header, 345, 155);
    const rawName = pax.path ?? longName ?? (prefix ? `${prefix}/${cString(header, 0, 100)}` : cString(header, 0, 100));
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
        if (TEXTS.has(path) && size <= 65536) summary.texts[path] = data.toString('utf8');
        break;
      case '5':
        break;
      case '2':
        checkLink(path, linkName, 'symlink');
        break;
      case '1':
        safeEntryPath(linkName);
        checkLink(path, linkName, 'hardlink');
        break;
      default:
        throw new ArchiveError(path, 'regular-files', `entry "${path}" is a ${type === '3' || type === '4' ? 'device' : type === '6' ? 'FIFO' : `type ${type}`} entry; only files, directories and links are allowed`);
    }
  }
  if (!sawEnd && offset < tar.length) throw new ArchiveError('', 'tar', 'the archive is truncated');
  if (summary.files === 0) throw new ArchiveError('', 'not-empty', 'the archive holds no files');
  return summary;
}
