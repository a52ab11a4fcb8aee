import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FailedGears } from './failed-gears';

describe('output of gears that failed their rollout', () => {
  it('keeps the newest few per app, oldest first, and forgets an app', () => {
    const dir = mkdtempSync(join(tmpdir(), 'failed-gears-'));
    try {
      const store = new FailedGears(dir);
      const at = (s: number) => new Date(Date.UTC(2026, 10, 29, 12, 0, s)).toISOString();
      for (let i = 1; i <= 5; i++) store.record('app-1', { gear: `gear-${i}`, cartridge: 'nodejs-18', at: at(i), lines: [`line of ${i}`] });
      store.record('app-2', { gear: 'other', cartridge: 'static', at: at(9), lines: ['other app'] });
      assert.deepEqual(
        store.read('app-1').map((f) => f.gear),
        ['gear-3', 'gear-4', 'gear-5'],
      );
      assert.deepEqual(store.read('app-1')[2].lines, ['line of 5']);
      store.forget('app-1');
      assert.deepEqual(store.read('app-1'), []);
      assert.deepEqual(
        store.read('app-2').map((f) => f.gear),
        ['other'],
      );
      assert.deepEqual(store.read('never-failed'), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
