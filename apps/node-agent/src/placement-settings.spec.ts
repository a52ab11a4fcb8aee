import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, placementSettings } from './config';

describe('the node zone and labels settings', () => {
  it('reads GEARSHIFT_NODE_ZONE and GEARSHIFT_NODE_LABELS', () => {
    assert.deepEqual(placementSettings({ GEARSHIFT_NODE_ZONE: 'rack-b', GEARSHIFT_NODE_LABELS: 'disk=ssd, gpu=none,empty=' }), {
      zone: 'rack-b',
      labels: { disk: 'ssd', gpu: 'none', empty: '' },
    });
  });

  it('gives nothing when unset: the node keeps what an operator set through the API', () => {
    assert.deepEqual(placementSettings({}), {});
  });

  it('stops the agent with the setting named when a value is not one the broker takes', () => {
    assert.throws(
      () => placementSettings({ GEARSHIFT_NODE_ZONE: 'Rack B' }),
      (e: Error) => e instanceof ConfigError && /GEARSHIFT_NODE_ZONE/.test(e.message),
    );
    assert.throws(
      () => placementSettings({ GEARSHIFT_NODE_LABELS: 'disk' }),
      (e: Error) => e instanceof ConfigError && /GEARSHIFT_NODE_LABELS/.test(e.message),
    );
  });
});
