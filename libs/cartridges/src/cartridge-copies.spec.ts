import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const CARTRIDGES = resolve(__dirname, '../../../../cartridges');

/**
 * Files that are one program kept in several cartridge folders: each image is built from its own folder alone, so
 * the versions of a runtime carry copies of it. A fix made to one copy must be made to all of them.
 */
const COPIES: { file: string; in: string[] }[] = [
  { file: 'bin/gear-requirements', in: ['python-3.11', 'python-3.13'] },
  { file: 'bin/gear-start', in: ['nodejs-18', 'nodejs-22', 'nodejs-24'] },
  { file: 'bin/gear-build', in: ['nodejs-22', 'nodejs-24'] },
  { file: 'bin/verify-integrity', in: ['nodejs-22', 'nodejs-24'] },
  { file: 'entrypoint.sh', in: ['postgresql-15', 'postgresql-17'] },
  { file: 'entrypoint.sh', in: ['mariadb-10.11', 'mariadb-11.8'] },
  { file: 'gear.conf', in: ['php-8.2', 'php-8.4'] },
  { file: 'platform/health.php', in: ['php-8.2', 'php-8.4'] },
];

describe("cartridges' copies of one program", () => {
  for (const copy of COPIES) {
    it(`keeps ${copy.file} the same in ${copy.in.join(', ')}`, () => {
      const [first, ...others] = copy.in.map((c) => ({ cartridge: c, text: readFileSync(resolve(CARTRIDGES, c, copy.file), 'utf8') }));
      for (const other of others) assert.equal(other.text, first.text, `${other.cartridge}/${copy.file} differs from ${first.cartridge}/${copy.file}`);
    });
  }
});
