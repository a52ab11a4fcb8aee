import { createHash, type Hash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What decides an image a build makes: the files of its context (names, contents, whether executable, where links
 * point), the Dockerfile it is built with and its stage, and its build arguments. The same inputs build the same
 * image, so a service whose inputs did not change since an earlier release reuses that release's image.
 */
export interface BuildInputs {
  contextDir: string;
  dockerfile: string;
  target?: string;
  buildArgs: Record<string, string>;
}

/** The inputs' hash (hex): equal exactly when the inputs are. */
export function buildInputsHash(inputs: BuildInputs): string {
  const hash = createHash('sha256');
  const args = Object.keys(inputs.buildArgs)
    .sort()
    .map((k) => [k, inputs.buildArgs[k]]);
  hash.update(JSON.stringify({ dockerfile: inputs.dockerfile, target: inputs.target ?? null, args }));
  hash.update('\0');
  hashTree(hash, inputs.contextDir, '');
  return hash.digest('hex');
}

function hashTree(hash: Hash, root: string, rel: string): void {
  const entries = readdirSync(join(root, rel)).sort();
  for (const name of entries) {
    const path = rel ? `${rel}/${name}` : name;
    const st = lstatSync(join(root, path));
    // Every entry is framed by its kind and its name, so that no two trees read the same.
    if (st.isDirectory()) {
      hash.update(`d\0${path}\0`);
      hashTree(hash, root, path);
    } else if (st.isSymbolicLink()) {
      hash.update(`l\0${path}\0${readlinkSync(join(root, path))}\0`);
    } else if (st.isFile()) {
      const content = readFileSync(join(root, path));
      hash.update(`f\0${path}\0${st.mode & 0o111 ? 'x' : '-'}\0${content.length}\0`);
      hash.update(content);
    }
  }
}
