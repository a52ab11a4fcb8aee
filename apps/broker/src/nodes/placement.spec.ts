import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { placeGears, servicesReachableElsewhere, type NodeCandidate } from './placement';

const now = new Date('2026-01-01T00:00:00Z');
const node = (name: string, over: Partial<NodeCandidate> = {}): NodeCandidate => ({
  id: name,
  name,
  state: 'active',
  lastHeartbeat: new Date(now.getTime() - 1000),
  memoryMb: 1024,
  maxGears: 10,
  allocatedMb: 0,
  gears: 0,
  ...over,
});
const req = (gearsMb: number[], preferNode?: string) => ({ gearsMb, preferNode, now, heartbeatTimeoutMs: 15000 });

describe('placeGears', () => {
  it("puts all of an app's gears on the node with the most free memory", () => {
    const r = placeGears([node('a', { allocatedMb: 512 }), node('b', { allocatedMb: 256 })], req([256, 256]));
    assert.deepEqual(r, { ok: true, nodeId: 'b' });
  });

  it('uses the second node when the first is full', () => {
    const r = placeGears([node('a', { memoryMb: 512, allocatedMb: 512 }), node('b')], req([256, 256]));
    assert.deepEqual(r, { ok: true, nodeId: 'b' });
  });

  it('never overcommits memory, and names the shortfall of every node', () => {
    const r = placeGears(
      [node('a', { allocatedMb: 900 }), node('b', { state: 'draining' }), node('c', { lastHeartbeat: new Date(now.getTime() - 60000) })],
      req([256]),
    );
    assert.equal(r.ok, false);
    assert.match((r as { shortfall: string }).shortfall, /1 gear\(s\) needing 256 MB: a has 124 MB free; b is draining; c has not reported for 60 s/);
  });

  it('respects the gear count limit', () => {
    const r = placeGears([node('a', { maxGears: 2, gears: 1 })], req([64, 64]));
    assert.equal(r.ok, false);
  });

  it('prefers the node that already runs the app when it has room', () => {
    const r = placeGears([node('a', { allocatedMb: 700 }), node('b')], req([256], 'a'));
    assert.deepEqual(r, { ok: true, nodeId: 'a' });
  });

  it("spreads an app's gears: the node with the fewest of them first", () => {
    const r = placeGears([node('a', { allocatedMb: 0 }), node('b', { allocatedMb: 512 })], { ...req([256]), spread: { a: 2, b: 1 } });
    assert.deepEqual(r, { ok: true, nodeId: 'b' });
  });

  it('says so when no node has joined', () => {
    assert.deepEqual(placeGears([], req([256])), { ok: false, shortfall: 'no node has joined the platform yet' });
  });

  it('spreads an app with services only once other nodes can reach them', () => {
    const reported = [{ ports: { postgresql: 32770 }, endpoints: 1 }];
    assert.equal(servicesReachableElsewhere('10.0.0.5', reported), true);
    assert.equal(servicesReachableElsewhere('127.0.0.1', reported), false, 'loopback reaches nothing on another host');
    assert.equal(servicesReachableElsewhere('10.0.0.5', [{ ports: {}, endpoints: 1 }]), false, 'no published port reported yet');
    assert.equal(servicesReachableElsewhere(undefined, reported), false);
  });
});
