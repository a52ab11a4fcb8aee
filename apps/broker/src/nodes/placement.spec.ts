import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { explainPlacement, placeGears, roomFor, roomShortfall, servicesReachableElsewhere, type NodeCandidate } from './placement';

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
    assert.deepEqual(placeGears([], req([256])), { ok: false, shortfall: 'no node has joined the platform yet', lasting: false });
  });

  it('spreads an app with services only once other nodes can reach them', () => {
    const reported = [{ ports: { postgresql: 32770 }, endpoints: 1 }];
    assert.equal(servicesReachableElsewhere('10.0.0.5', reported), true);
    assert.equal(servicesReachableElsewhere('127.0.0.1', reported), false, 'loopback reaches nothing on another host');
    assert.equal(servicesReachableElsewhere('10.0.0.5', [{ ports: {}, endpoints: 1 }]), false, 'no published port reported yet');
    assert.equal(servicesReachableElsewhere(undefined, reported), false);
  });

  it('explains every node it considered: the chosen one first, then why each other was not chosen', () => {
    const r = explainPlacement(
      [
        node('a', { allocatedMb: 512 }),
        node('b', { state: 'draining' }),
        node('c', { lastHeartbeat: null }),
        node('d'),
        node('e', { memoryMb: 300, allocatedMb: 200 }),
        node('f', { maxGears: 1, gears: 1 }),
        node('g', { labels: { disk: 'hdd' } }),
      ],
      { ...req([256]), labels: { disk: 'hdd' } },
    );
    assert.deepEqual(r.placement, { ok: true, nodeId: 'g' });
    assert.deepEqual(
      r.considered.map((v) => [v.node, v.chosen, v.reason]),
      [
        ['g', true, 'g ranks first: 1024 MB free'],
        ['a', false, 'a lacks the label disk=hdd'],
        ['b', false, 'b is draining'],
        ['c', false, 'c has not reported yet'],
        ['d', false, 'd lacks the label disk=hdd'],
        ['e', false, 'e lacks the label disk=hdd'],
        ['f', false, 'f lacks the label disk=hdd'],
      ],
    );
  });

  it('says what ranked a fitting node below the chosen one: replicas, free memory, gears', () => {
    const r = explainPlacement([node('a', { allocatedMb: 512 }), node('b'), node('c', { gears: 3 }), node('d', { allocatedMb: 0 })], {
      ...req([256]),
      spread: { a: 0, b: 1 },
    });
    assert.deepEqual(r.placement, { ok: true, nodeId: 'd' });
    assert.deepEqual(
      r.considered.map((v) => [v.node, v.chosen, v.reason]),
      [
        ['d', true, "d ranks first: 1024 MB free, 0 of the app's replicas in d (no zone) and 0 on the node"],
        ['c', false, 'c runs 3 gears, d 0'],
        ['a', false, 'a has 512 MB free, d 1024 MB'],
        ['b', false, "b (no zone) holds 1 of the app's replicas, d (no zone) 0"],
      ],
    );
    assert.match(r.summary, /^1 gear needing 256 MB on d: 4 of 4 nodes could take them$/);
  });

  it('counts the nodes it passed over by why, in words that name no node', () => {
    const r = explainPlacement(
      [
        node('a', { allocatedMb: 512 }),
        node('b'),
        node('c', { gears: 3 }),
        node('d'),
        node('e', { state: 'draining' }),
        node('f', { memoryMb: 100 }),
        node('g', { memoryMb: 100 }),
      ],
      { ...req([256]), spread: { b: 1 } },
    );
    assert.deepEqual(r.placement, { ok: true, nodeId: 'd' });
    assert.deepEqual(r.passedOver, {
      'runs more gears': 1,
      'has less free memory': 1,
      "its zone holds more of the app's replicas": 1,
      'is draining': 1,
      'has too little free memory': 2,
    });
    assert.equal(
      Object.values(r.passedOver).reduce((x, y) => x + y, 0),
      r.considered.length - 1,
      'every node but the chosen one is counted once',
    );
  });

  it('words only the chosen node when not asked to name every one, choosing and counting the same', () => {
    const nodes = [node('a', { allocatedMb: 512 }), node('b'), node('c', { gears: 3 }), node('d'), node('e', { state: 'draining' })];
    const full = explainPlacement(nodes, { ...req([256]), spread: { b: 1 } });
    const short = explainPlacement(nodes, { ...req([256]), spread: { b: 1 }, named: false });
    assert.deepEqual(short.placement, full.placement);
    assert.deepEqual(short.passedOver, full.passedOver);
    assert.deepEqual(short.considered, [full.considered[0]]);
    assert.equal(short.summary, full.summary);
    // A refusal still names every node, whatever was asked: it is what the caller tells.
    const none = explainPlacement([node('a', { state: 'draining' }), node('b', { memoryMb: 100 })], { ...req([256]), named: false });
    assert.equal(none.considered.length, 2);
    assert.match((none.placement as { shortfall: string }).shortfall, /a is draining; b has 100 MB free/);
  });

  it('names the node state a later state adds, and a shortfall explains every refusal', () => {
    const r = explainPlacement([node('a', { state: 'lost' }), node('b', { allocatedMb: 1000 })], req([256]));
    assert.equal(r.placement.ok, false);
    assert.deepEqual(
      r.considered.map((v) => v.reason),
      ['a is lost', 'b has 24 MB free'],
    );
  });

  it("spreads an app's replicas across zones first, then across the nodes of a zone", () => {
    const nodes = [
      node('a1', { zone: 'east' }),
      node('a2', { zone: 'east' }),
      node('b1', { zone: 'west', allocatedMb: 800 }),
      node('b2', { zone: 'west', allocatedMb: 800 }),
    ];
    const spread: Record<string, number> = {};
    const placed: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = placeGears(nodes, { ...req([64]), spread });
      assert.equal(r.ok, true);
      const id = (r as { nodeId: string }).nodeId;
      placed.push(id);
      spread[id] = (spread[id] ?? 0) + 1;
    }
    // East has more room, yet the second replica goes west: a zone lost takes at most half of them.
    assert.deepEqual(placed, ['a1', 'b1', 'a2', 'b2']);
    const explained = explainPlacement(nodes, { ...req([64]), spread: { a1: 1 } });
    assert.deepEqual(explained.placement, { ok: true, nodeId: 'b1' });
    assert.equal(explained.considered.find((v) => v.node === 'a2')?.reason, "zone east holds 1 of the app's replicas, zone west 0");
    assert.equal(explained.considered.find((v) => v.node === 'b2')?.reason, 'b2 ties with b1, which comes first by name');
    assert.match(explained.summary, /on b1 \(zone west\)/);
  });

  it('keeps the preferred node and says so of the others', () => {
    const r = explainPlacement([node('a', { allocatedMb: 700 }), node('b')], req([256], 'a'));
    assert.deepEqual(r.placement, { ok: true, nodeId: 'a' });
    assert.deepEqual(
      r.considered.map((v) => v.reason),
      ["a runs the app's gears and has 324 MB free", "b fits, but the app's gears run on a"],
    );
  });
});

describe('a shortfall that lasts', () => {
  it('lasts when every node is full or lacks a label: waiting changes nothing', () => {
    const full = placeGears([node('a', { allocatedMb: 1000 }), node('b', { maxGears: 1, gears: 1 })], req([256]));
    assert.deepEqual(full.ok === false && full.lasting, true);
    const labelled = placeGears([node('a')], { ...req([256]), labels: { disk: 'ssd' } });
    assert.deepEqual(labelled.ok === false && labelled.lasting, true);
  });

  it('passes when a node that is away or not yet heard from may take the gears once back', () => {
    const quiet = placeGears([node('a', { allocatedMb: 1000 }), node('b', { lastHeartbeat: null })], req([256]));
    assert.deepEqual(quiet.ok === false && quiet.lasting, false);
    const silent = placeGears([node('a', { lastHeartbeat: new Date(now.getTime() - 60000) })], req([256]));
    assert.deepEqual(silent.ok === false && silent.lasting, false);
  });
});

describe('roomFor and roomShortfall', () => {
  const room = (nodes: NodeCandidate[], gearsMb: number[], together?: string | true) => roomFor(nodes, { gearsMb, together, now, heartbeatTimeoutMs: 15000 });
  const gears = (count: number, mb: number) => Array<number>(count).fill(mb);

  it('gives the whole need and what the nodes can take of it, not the one gear that found no room', () => {
    const big = node('vm', { memoryMb: 20 * 1024, allocatedMb: 1024, maxGears: 500 });
    const check = room([big], gears(101, 256));
    assert.deepEqual(check, { gears: 101, needMb: 25856, fits: 76, freeMb: 19456, nodes: 1 });
    assert.equal(
      roomShortfall('the release', gears(101, 256), check),
      'the release needs 101 gears of 256 MB (25.3 GB); the nodes can take 76 more (19.0 GB free on 1 node)',
    );
  });

  it('says nothing when everything fits', () => {
    const check = room([node('a'), node('b')], gears(8, 256));
    assert.equal(check.fits, 8);
    assert.equal(roomShortfall('the release', gears(8, 256), check), null);
  });

  it('counts the room of every node that takes gears, and the gear limit as well as memory', () => {
    const check = room([node('a', { maxGears: 3 }), node('b', { allocatedMb: 512 }), node('c', { state: 'draining' })], gears(6, 256));
    assert.deepEqual(check, { gears: 6, needMb: 1536, fits: 5, freeMb: 1536, nodes: 2 });
    assert.equal(
      roomShortfall('service "jobs" at 7 replicas', gears(6, 256), check, true),
      'service "jobs" at 7 replicas needs 6 more gears of 256 MB (1.5 GB); the nodes can take 5 more (1.5 GB free on 2 nodes)',
    );
  });

  it('puts gears that go together on one node: the one named, or the one that takes the most', () => {
    const nodes = [node('a', { allocatedMb: 512 }), node('b')];
    assert.equal(room(nodes, gears(4, 256), 'a').fits, 2);
    assert.equal(room(nodes, gears(4, 256), true).fits, 4);
    assert.equal(room(nodes, gears(6, 256), true).fits, 4);
    assert.equal(room(nodes, gears(6, 256)).fits, 6);
  });

  it('places the largest gears first and names mixed sizes by their sum', () => {
    const check = room([node('a', { memoryMb: 1024 })], [256, 512, 512]);
    assert.equal(check.fits, 2);
    assert.equal(roomShortfall('the release', [256, 512, 512], check), 'the release needs 3 gears (1.3 GB); the nodes can take 2 more (1.0 GB free on 1 node)');
  });

  it('leaves a passing state to placement: with no node that takes gears now, there is no shortfall to tell', () => {
    const check = room([node('a', { lastHeartbeat: null })], gears(2, 256));
    assert.equal(check.nodes, 0);
    assert.equal(roomShortfall('the release', gears(2, 256), check), null);
  });
});
