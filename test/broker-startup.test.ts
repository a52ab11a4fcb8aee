import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './support/platform';

/** The broker refuses to start on bad configuration or a broken cartridge, and says exactly what is wrong. */
describe('broker start-up checks', () => {
  const start = (env: Record<string, string>) =>
    spawnSync(process.execPath, [join(ROOT, 'dist/apps/broker/src/main.js')], {
      env: { ...process.env, DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none', ...env },
      encoding: 'utf8',
      timeout: 20_000,
    });

  it('stops on a bad setting, naming the variable and the rule', () => {
    const r = start({ GEARSHIFT_PORT: 'eighty' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /GEARSHIFT_PORT must be a whole number from 0 to 65535, not "eighty"/);
  });

  it('stops on a DATABASE_URL its driver and libpq would read differently, naming it and not its password', () => {
    const r = start({ DATABASE_URL: 'postgresql://gearshift:hunter2@/gearshift' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /DATABASE_URL names no host: give one, or the directory of the server's socket \(\?host=\/var\/run\/postgresql\)/);
    assert.ok(!r.stderr.includes('hunter2'), r.stderr);
  });

  it('stops on a broken cartridge manifest, naming the file, the field and the rule', () => {
    const dir = mkdtempSync(join(tmpdir(), 'broken-catalogue-'));
    cpSync(join(ROOT, 'cartridges', 'static'), join(dir, 'static'), { recursive: true });
    const manifest = join(dir, 'static', 'manifest.yml');
    writeFileSync(manifest, readFileSync(manifest, 'utf8').replace('protocol: http', 'protocol: gopher'));
    const r = start({ GEARSHIFT_CARTRIDGES_DIR: dir });
    assert.equal(r.status, 2, r.stderr);
    assert.ok(r.stderr.includes(manifest), r.stderr);
    assert.match(r.stderr, /\/endpoints\/0\/protocol must be one of "http", "tcp"/);
  });
});
