import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Deployment } from '../api-types';
import { deploymentTable } from './deployments';

const release = (number: number, error: string | null): Deployment => ({
  id: `d${number}`,
  number,
  state: error ? 'failed' : 'active',
  source: { kind: 'archive', bytes: 1024, files: 3 },
  image: null,
  dockerfile: null,
  hooks: [],
  health: null,
  error,
  operation: null,
  createdAt: '2026-11-30T10:00:00.000Z',
  finishedAt: null,
});

describe('gearshift deployments', () => {
  const long = `the build of web failed: npm ci exited with code 1 because the lockfile ${'and more '.repeat(10)}`;

  it('ends an error cut to fit with …, and says how to see it whole', () => {
    const out = deploymentTable([release(2, long), release(1, 'the release hook failed\nsee its output'), release(0, null)]);
    const rows = out.split('\n');
    assert.match(rows[1], /the build of web failed: npm ci exited with code 1 because…$/);
    assert.match(rows[2], /the release hook failed…$/, 'the lines after the first were cut too');
    assert.doesNotMatch(out, /see its output/);
    assert.match(rows[3], /^0 +active/);
    assert.match(out, /^\(a cell ending in … was cut to fit: add --wide to see it whole, or --json\)$/m);
  });

  it('shows errors whole with --wide, one line a row', () => {
    const out = deploymentTable([release(2, long), release(1, 'the release hook failed\nsee its output')], true);
    assert.ok(out.includes(long.trim()), out);
    assert.match(out, /the release hook failed ⏎ see its output$/m);
    assert.doesNotMatch(out, /…/);
    assert.equal(out.split('\n').length, 3);
  });

  it('adds no hint when nothing was cut', () => {
    assert.doesNotMatch(deploymentTable([release(1, 'a short error')]), /cut to fit/);
  });
});
