/**
 * A folder chosen in the browser, as the .tar.gz the deployments API takes: ustar entries for each file (paths
 * relative to the chosen folder), gzipped by the browser's own CompressionStream.
 */

const BLOCK = 512;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function header(name: string, size: number, mtime: number): Uint8Array {
  const h = new Uint8Array(BLOCK);
  const put = (text: string, at: number) => h.set(new TextEncoder().encode(text), at);
  const path = new TextEncoder().encode(name);
  // ustar splits a long path into a prefix (155 bytes) and a name (100 bytes) at a slash.
  let prefix = '';
  let short = name;
  if (path.length > 100) {
    const cut = name.lastIndexOf('/', 155);
    if (cut <= 0 || new TextEncoder().encode(name.slice(cut + 1)).length > 100) throw new Error(`the path ${name} is too long for a tar archive`);
    prefix = name.slice(0, cut);
    short = name.slice(cut + 1);
  }
  put(short, 0);
  put(octal(0o644, 8), 100);
  put(octal(0, 8), 108);
  put(octal(0, 8), 116);
  put(octal(size, 12), 124);
  put(octal(Math.floor(mtime / 1000), 12), 136);
  h.fill(0x20, 148, 156);
  put('0', 156);
  put('ustar\0', 257);
  put('00', 263);
  put(prefix, 345);
  let sum = 0;
  for (const b of h) sum += b;
  put(octal(sum, 7) + ' ', 148);
  return h;
}

/** Files as `<input webkitdirectory>` gives them: the first path segment (the folder's own name) is dropped. */
export async function tarGz(files: File[]): Promise<Blob> {
  const parts: BlobPart[] = [];
  for (const file of files) {
    const rel = (file.webkitRelativePath || file.name).split('/');
    const name = rel.length > 1 ? rel.slice(1).join('/') : rel[0];
    if (!name || name.split('/').some((s) => s === '.git' || s === 'node_modules')) continue;
    parts.push(header(name, file.size, file.lastModified) as Uint8Array<ArrayBuffer>, file);
    const pad = (BLOCK - (file.size % BLOCK)) % BLOCK;
    if (pad) parts.push(new Uint8Array(pad));
  }
  parts.push(new Uint8Array(BLOCK * 2));
  const stream = new Blob(parts).stream().pipeThrough(new CompressionStream('gzip'));
  return new Response(stream).blob();
}
