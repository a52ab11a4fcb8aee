import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LABELS } from '@gearshift/cartridges';
import { fencedContainers, HeldEpochs, staleGears } from './fencing';

const container = (id: string, gear: string, epoch?: number) => ({
  id,
  labels: { [LABELS.gear]: gear, ...(epoch ? { [LABELS.epoch]: String(epoch) } : {}) },
});

describe('fencing on the node', () => {
  it('holds the highest epoch seen of each gear, from labels and jobs alike', () => {
    const held = new HeldEpochs();
    held.learn([container('c1', 'g1', 2), container('c2', 'g2'), container('c3', 'g1', 1)]);
    held.raise('g2', 3);
    held.raise('g2', 1);
    assert.equal(held.of('g1'), 2);
    assert.equal(held.of('g2'), 3);
    assert.equal(held.of('g3'), 0);
  });

  it('refuses a job that names an older assignment than the one held', () => {
    const held = new HeldEpochs();
    held.raise('g1', 2);
    assert.deepEqual(staleGears({ g1: 1, g2: 1 }, held), ['g1']);
  });

  it('acts on a job of the held assignment or a newer one, and on one without epochs (an older broker)', () => {
    const held = new HeldEpochs();
    held.raise('g1', 2);
    assert.deepEqual(staleGears({ g1: 2 }, held), []);
    assert.deepEqual(staleGears({ g1: 3 }, held), []);
    assert.deepEqual(staleGears(undefined, held), []);
  });

  it("removes the containers of fenced gears' older assignments, and nothing else", () => {
    const containers = [container('old', 'g1', 1), container('unlabelled', 'g1'), container('newer', 'g1', 3), container('other', 'g2', 1)];
    assert.deepEqual(
      fencedContainers(containers, [{ gearId: 'g1', epoch: 2 }]).map((c) => c.id),
      ['old', 'unlabelled'],
    );
  });

  it('removes nothing when the fence names no gear the node has', () => {
    assert.deepEqual(fencedContainers([container('c', 'g1', 1)], [{ gearId: 'g9', epoch: 2 }]), []);
  });
});
