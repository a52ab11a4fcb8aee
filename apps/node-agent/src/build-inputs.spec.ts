import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildInputsHash, type BuildInputs } from './build-inputs';

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'build-inputs-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

describe('buildInputsHash', () => {
  const made: string[] = [];
  after(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });
  const inputs = (files: Record<string, string>, over: Partial<BuildInputs> = {}): BuildInputs => {
    const contextDir = folder(files);
    made.push(contextDir);
    return { contextDir, dockerfile: 'Dockerfile', buildArgs: { A: '1' }, ...over };
  };
  const app = { Dockerfile: 'FROM base\nCOPY src/ ./\n', 'src/package.json': '{}', 'src/lib/index.js': 'exports.a = 1;\n' };

  it('is the same for the same files, Dockerfile and arguments, wherever the folder is', () => {
    assert.equal(buildInputsHash(inputs(app)), buildInputsHash(inputs(app)));
    assert.equal(buildInputsHash(inputs(app, { buildArgs: { B: '2', A: '1' } })), buildInputsHash(inputs(app, { buildArgs: { A: '1', B: '2' } })));
  });

  it('changes with a file, a file name, a new file, the Dockerfile, its stage or an argument', () => {
    const base = buildInputsHash(inputs(app));
    const others = [
      inputs({ ...app, 'src/lib/index.js': 'exports.a = 2;\n' }),
      inputs({ Dockerfile: app.Dockerfile, 'src/package.json': '{}', 'src/lib/main.js': 'exports.a = 1;\n' }),
      inputs({ ...app, 'src/README': '' }),
      inputs({ ...app, Dockerfile: 'FROM other\nCOPY src/ ./\n' }),
      inputs(app, { target: 'runtime' }),
      inputs(app, { dockerfile: 'Dockerfile.prod' }),
      inputs(app, { buildArgs: { A: '2' } }),
    ].map(buildInputsHash);
    for (const h of others) assert.notEqual(h, base);
    assert.equal(new Set(others).size, others.length);
  });

  it('tells an executable file and a link from a plain file, and reads a dangling link', () => {
    const base = buildInputsHash(inputs(app));
    const executable = inputs(app);
    chmodSync(join(executable.contextDir, 'src/lib/index.js'), 0o755);
    assert.notEqual(buildInputsHash(executable), base);
    const linked = inputs(app);
    symlinkSync('nowhere', join(linked.contextDir, 'src/link'));
    assert.notEqual(buildInputsHash(linked), base);
  });
});
