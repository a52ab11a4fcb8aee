import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './config';

describe("the agent's GEARSHIFT_GEAR_LOG_MAX_SIZE", () => {
  const base = { GEARSHIFT_DATA_DIR: mkdtempSync(join(tmpdir(), 'gst-agent-config-')), GEARSHIFT_NODE_NAME: 'n1', GEARSHIFT_INSTANCE: 'gst' };

  it('is 10m unless set, and takes sizes as the json-file driver does', () => {
    assert.equal(loadConfig(base).gearLogMaxSize, '10m');
    assert.equal(loadConfig({ ...base, GEARSHIFT_GEAR_LOG_MAX_SIZE: '1m' }).gearLogMaxSize, '1m');
    assert.equal(loadConfig({ ...base, GEARSHIFT_GEAR_LOG_MAX_SIZE: '64k' }).gearLogMaxSize, '64k');
    assert.equal(loadConfig({ ...base, GEARSHIFT_GEAR_LOG_MAX_SIZE: '2g' }).gearLogMaxSize, '2g');
  });

  it('stops the agent on a size it cannot take, naming the setting', () => {
    for (const bad of ['10', '10M', '1.5m', '0m', '32k', 'big'])
      assert.throws(
        () => loadConfig({ ...base, GEARSHIFT_GEAR_LOG_MAX_SIZE: bad }),
        (e: Error) => e instanceof ConfigError && e.message === `GEARSHIFT_GEAR_LOG_MAX_SIZE must be a size of at least 64k, as 512k, 10m or 1g, not "${bad}"`,
      );
  });
});
