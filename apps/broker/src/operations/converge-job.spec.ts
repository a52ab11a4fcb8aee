import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { GearSpec } from '@gearshift/cartridges';
import { convergeJob } from './converge-job';

const spec = (gearId: string): GearSpec => ({ gearId, cartridge: 'node-20' }) as unknown as GearSpec;
const gears = [
  { id: 'g1', nodeId: 'n1' },
  { id: 'g2', nodeId: 'n2' },
  { id: 'g3', nodeId: 'n1' },
];
const specs = [spec('g1'), spec('g2'), spec('g3')];

describe('convergeJob', () => {
  it("gives an operation's node the specs of its own gears, the drain time, and the operation", () => {
    assert.deepEqual(convergeJob({ appId: 'a1', nodeId: 'n1', gears, specs, operationId: 'op1', drainMs: 2000 }), {
      drainMs: 2000,
      operationId: 'op1',
      appId: 'a1',
      gears: [spec('g1'), spec('g3')],
    });
  });

  it("lets a stage's extras add images to keep and a hook, and set its own drain time", () => {
    const after = { gearId: 'g1', command: ['sh', '-c', 'migrate'] };
    assert.deepEqual(
      convergeJob({ appId: 'a1', nodeId: 'n2', gears, specs, operationId: 'op1', drainMs: 2000, extras: { drainMs: 0, keepImages: ['r:1'], after } }),
      {
        drainMs: 0,
        keepImages: ['r:1'],
        after,
        operationId: 'op1',
        appId: 'a1',
        gears: [spec('g2')],
      },
    );
  });

  it('repairs drift with the app and its gears on the node alone: no operation, no drain', () => {
    assert.deepEqual(convergeJob({ appId: 'a1', nodeId: 'n1', gears, specs: [spec('g1'), spec('g3')] }), { appId: 'a1', gears: [spec('g1'), spec('g3')] });
  });

  it('sends no gears to a node that has none of the app (the node removes what it runs of it)', () => {
    assert.deepEqual(convergeJob({ appId: 'a1', nodeId: 'n9', gears, specs, operationId: 'op1', drainMs: 0 }), {
      drainMs: 0,
      operationId: 'op1',
      appId: 'a1',
      gears: [],
    });
  });
});
