import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appliedFileName, importCompose } from './compose';
import { parseDescriptor } from './descriptor';
import { parseManifest } from './manifest';
import { MAX_YAML_ALIASES, MAX_YAML_ANCHORS, MAX_YAML_BYTES, MAX_YAML_NODES, MAX_YAML_TAGS, readYaml, YamlLimitError, yamlLimitViolation } from './yaml-limits';

const rule = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof YamlLimitError, String(err));
    return err.violations[0].rule;
  }
  return undefined;
};

/** Each level an alias list of the one before: few aliases written, very many once expanded. */
const anchors = (levels: number, width: number) => {
  const lines = ['l0: &l0 [a, b]'];
  for (let i = 1; i < levels; i++) lines.push(`l${i}: &l${i} [${Array.from({ length: width }, () => `*l${i - 1}`).join(', ')}]`);
  return `name: x\n${lines.join('\n')}\n`;
};

describe('YAML limits', () => {
  it('counts the nodes of every kind of scalar, alias and flow collection', () => {
    // k and [ are two nodes; each item is one more, whatever its kind.
    const items = ['1', '"b"', "'c'", '{}', '[]', '*a'];
    for (const item of items) {
      const doc = (n: number) => `a: &a x\nk: [${Array.from({ length: n }, () => item).join(', ')}]\n`;
      const n = MAX_YAML_NODES - 4; // a, x, k and [
      if (item === '*a') {
        assert.equal(yamlLimitViolation(doc(MAX_YAML_ALIASES))?.rule, undefined);
        continue;
      }
      assert.equal(yamlLimitViolation(doc(n)), undefined, item);
      assert.equal(yamlLimitViolation(doc(n + 1))?.rule, 'yaml-nodes', item);
    }
    const block = (n: number) => `k:\n${'- |\n x\n'.repeat(n)}`;
    assert.equal(yamlLimitViolation(block(MAX_YAML_NODES - 1)), undefined);
    assert.equal(yamlLimitViolation(block(MAX_YAML_NODES))?.rule, 'yaml-nodes');
  });

  it('refuses a long flow sequence before it is built, naming the rule', () => {
    const text = `name: x\ncartridges: [${Array.from({ length: MAX_YAML_NODES + 1 }, () => '1').join(',')}]\n`;
    assert.ok(Buffer.byteLength(text) < MAX_YAML_BYTES);
    assert.equal(
      rule(() => parseDescriptor(text)),
      'yaml-nodes',
    );
    assert.equal(
      rule(() => parseManifest(text, 'manifest.yml')),
      'yaml-nodes',
    );
  });

  it('refuses a document larger than the byte limit, one deeper than the depth limit, and one of too many nodes', () => {
    assert.equal(
      rule(() => parseDescriptor(`name: x\nenv: {A: "${'x'.repeat(MAX_YAML_BYTES)}"}\n`)),
      'yaml-size',
    );
    assert.equal(
      rule(() => parseDescriptor(`${'['.repeat(30_000)}${']'.repeat(30_000)}`)),
      'yaml-depth',
    );
    assert.equal(
      rule(() => parseDescriptor(`a: [${'1, '.repeat(MAX_YAML_NODES)}1]`)),
      'yaml-nodes',
    );
  });

  it('refuses more aliases than the limit, and still lets the yaml package bound their expansion', () => {
    const text = `a: &a x\nb: [${Array.from({ length: MAX_YAML_ALIASES + 1 }, () => '*a').join(', ')}]\n`;
    assert.equal(
      rule(() => parseDescriptor(text)),
      'yaml-aliases',
    );
    // 9 aliases written, 8^9 values once expanded: the parser's own count refuses it as YAML.
    assert.throws(
      () => parseDescriptor(anchors(9, 8)),
      (err: Error) => !(err instanceof YamlLimitError) && /alias/i.test(err.message),
    );
  });

  it('names the file a compose alias bomb came from, never gearshift.yml', () => {
    const bomb = `services:\n  web:\n    image: nginx\nx-a: &a x\nx-b: [${Array.from({ length: MAX_YAML_ALIASES + 1 }, () => '*a').join(', ')}]\n`;
    assert.equal(appliedFileName(bomb, 'docker-compose.yml'), 'docker-compose.yml');
    assert.equal(appliedFileName(bomb), 'the compose file');
    assert.throws(
      () => parseDescriptor(bomb, appliedFileName(bomb, 'compose.yaml')),
      (err: Error) => err instanceof YamlLimitError && err.subject === 'compose.yaml' && err.violations[0].rule === 'yaml-aliases',
    );
    // A gearshift.yml stays one, and a readable compose file is one.
    assert.equal(appliedFileName('name: x\ncartridges: [nodejs]\nservices: {}\n'), 'gearshift.yml');
    assert.equal(appliedFileName(`name: x\ncartridges: [${Array.from({ length: MAX_YAML_ALIASES + 1 }, () => '*a').join(', ')}]\n`), 'gearshift.yml');
    assert.equal(appliedFileName('services:\n  web: {image: nginx}\n'), 'the compose file');
  });

  it('leaves an ordinary file to the schema', () => {
    assert.equal(
      rule(() => parseDescriptor('name: web\ncartridges: [nodejs]\nenv: {A: "1"}\n')),
      undefined,
    );
  });

  it('blocks a compose file too large to read, before its variables are replaced', () => {
    const text = `services:\n  web:\n    image: nginx\n    command: [${Array.from({ length: MAX_YAML_NODES }, () => '"${X}"').join(',')}]\n`;
    const r = importCompose(text, { env: { X: 'x' } });
    assert.deepEqual(r.blockers, [{ pointer: '', reason: `holds more than ${MAX_YAML_NODES} YAML nodes` }]);
    assert.deepEqual(r.warnings, []);
  });

  it('refuses a document of too many tags or anchors, or of closers of nothing, before the parser makes an error of each', () => {
    // One node of 40,000 tags: the parser's errors, each placed in a copy of its 240 KB line, took the broker's heap.
    const bomb = `name: x\nenv: ${'!!map '.repeat(40_000)}{}\n`;
    assert.ok(Buffer.byteLength(bomb) < MAX_YAML_BYTES);
    const started = Date.now();
    assert.equal(
      rule(() => parseDescriptor(bomb)),
      'yaml-tags',
    );
    assert.ok(Date.now() - started < 1000, `refused after ${Date.now() - started} ms`);
    assert.equal(yamlLimitViolation(`a: ${'!x '.repeat(MAX_YAML_TAGS)}1\n`), undefined);
    assert.equal(yamlLimitViolation(`a: ${Array.from({ length: MAX_YAML_ANCHORS + 1 }, (_, i) => `- &a${i} x`).join('\n')}\n`)?.rule, 'yaml-anchors');
    const closers = yamlLimitViolation(`name: x\nenv: ${'] '.repeat(100_000)}\n`);
    assert.deepEqual([closers?.rule, closers?.message], ['yaml', 'is not valid YAML: a ] closes no [ or { opened before it']);
    assert.equal(yamlLimitViolation('command: ["sh", "-c", "echo ]"]\nnote: a } in plain text\n'), undefined);
  });

  it('reads YAML giving only its first error, with its line and column', () => {
    assert.deepEqual(readYaml('a: 1\nb: [x, y]\n'), { a: 1, b: ['x', 'y'] });
    assert.deepEqual(readYaml('base: &b {x: 1}\nc:\n  <<: *b\n  y: 2\n', { merge: true }), { base: { x: 1 }, c: { x: 1, y: 2 } });
    assert.throws(
      () => readYaml(`a: 1\nb: ${': '.repeat(1000)}\n`),
      (err: Error & { linePos?: { line: number; col: number }[] }) => err.linePos?.[0].line === 2 && / at line 2, column \d+$/.test(err.message),
    );
  });
});
