import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { recipeDockerfile, redactor } from './builder';

describe('build recipes', () => {
  const recipe = { workdir: '/opt/app', dependencies: ['package.json', 'package-lock.json'], install: 'npm install', command: ['gear-start'], hooks: {} };

  it('copies the dependency files present before the code, so installing them is a cached layer', () => {
    const df = recipeDockerfile('gearshift/nodejs-18:abc', recipe, new Set(['package.json', 'index.js']), true);
    const lines = df.split('\n');
    const deps = lines.findIndex((l) => l === 'COPY --chown=gear src/package.json ./');
    const install = lines.findIndex((l) => l.includes("sh -c 'npm install'"));
    const code = lines.findIndex((l) => l === 'COPY --chown=gear src/ ./');
    assert.ok(deps > 0 && install > deps && code > install, df);
    assert.match(df, /^FROM gearshift\/nodejs-18:abc$/m);
    assert.match(df, /NODE_EXTRA_CA_CERTS=\/tmp\/gearshift-ca\.crt/);
    assert.match(df, /^CMD \["gear-start"\]$/m);
    assert.doesNotMatch(df, /package-lock/);
  });

  it('skips the install without dependency files and runs the hooks in their places', () => {
    const df = recipeDockerfile('base', { ...recipe, hooks: { preBuild: './.gearshift/hooks/pre-build', build: "echo 'built'" } }, new Set(['.gearshift/hooks/pre-build']), false);
    assert.doesNotMatch(df, /npm install/);
    assert.doesNotMatch(df, /gearshift-ca/);
    const lines = df.split('\n');
    const pre = lines.findIndex((l) => l.includes('hooks/pre-build') && l.startsWith('RUN'));
    const code = lines.findIndex((l) => l === 'COPY --chown=gear src/ ./');
    const build = lines.findIndex((l) => l.includes("echo '\\''built'\\''"));
    assert.ok(pre > 0 && code > pre && build > code, df);
  });

  it('masks secrets in output, longest first', () => {
    const redact = redactor(['s3cret-pass', 's3cret', 'ab']);
    assert.equal(redact('postgres://u:s3cret-pass@db/x and s3cret and ab'), 'postgres://u:******@db/x and ****** and ab');
  });
});
