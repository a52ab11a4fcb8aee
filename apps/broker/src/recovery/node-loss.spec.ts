import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeCandidate } from '../nodes/placement';
import { nodesToLose, placeRecovery, planMoves, type GearSeen, type MoveInput, type NodeSeen } from './node-loss';

const now = new Date('2026-01-01T00:00:10Z');
const ago = (ms: number) => new Date(now.getTime() - ms);
const seen = (name: string, silentMs: number | null, lostAt: Date | null = null): NodeSeen => ({
  id: name,
  name,
  lastHeartbeat: silentMs === null ? null : ago(silentMs),
  lostAt,
});

describe('nodesToLose (the heartbeat watchdog)', () => {
  it('loses a node silent for longer than the timeout, and only that one', () => {
    assert.deepEqual(
      nodesToLose([seen('a', 500), seen('b', 3500), seen('c', 2900)], now, 3000).map((n) => n.name),
      ['b'],
    );
  });

  it('does nothing while every node reports', () => {
    assert.deepEqual(nodesToLose([seen('a', 100), seen('b', 900)], now, 3000), []);
  });

  it('does not lose a node twice, nor one that never reported (it has not joined yet)', () => {
    assert.deepEqual(nodesToLose([seen('a', 100), seen('b', 9000, ago(5000)), seen('c', null)], now, 3000), []);
  });

  it('loses nobody when no node at all reports: the broker is the one that hears nothing', () => {
    assert.deepEqual(nodesToLose([seen('a', 9000), seen('b', 9000)], now, 3000), []);
    assert.deepEqual(nodesToLose([seen('a', 9000)], now, 3000), []);
  });
});

const node = (name: string, over: Partial<NodeCandidate> = {}): NodeCandidate => ({
  id: name,
  name,
  state: 'active',
  lastHeartbeat: ago(500),
  memoryMb: 1024,
  maxGears: 10,
  allocatedMb: 0,
  gears: 0,
  ...over,
});
const gear = (id: string, nodeId: string, cartridge = 'nodejs-24', over: Partial<GearSeen> = {}): GearSeen => ({
  id,
  cartridge,
  nodeId,
  memoryMb: 256,
  process: null,
  ports: {},
  ...over,
});
const input = (gears: GearSeen[], candidates: NodeCandidate[], over: Partial<MoveInput> = {}): MoveInput => ({
  gears,
  lost: new Map([['n1', 'lab-1']]),
  candidates,
  stateless: (c) => c.startsWith('nodejs') || c === 'static',
  endpoints: () => 1,
  addresses: new Map([
    ['n2', '10.0.0.2'],
    ['n3', '10.0.0.3'],
  ]),
  recoverHint: 'gearshift apps recover shop',
  now,
  heartbeatTimeoutMs: 3000,
  ...over,
});

describe('planMoves (rescheduling a lost node)', () => {
  it("moves a web replica to the healthy node with the fewest of the app's replicas", () => {
    const plan = planMoves(input([gear('w1', 'n1'), gear('w2', 'n2'), gear('w3', 'n3'), gear('w4', 'n3')], [node('n2'), node('n3')]));
    assert.deepEqual(plan, { moves: [{ gearId: 'w1', cartridge: 'nodejs-24', from: 'n1', to: 'n2' }], stuck: [], degraded: null });
  });

  it('spreads several moved replicas, counting each move as it is made', () => {
    const plan = planMoves(input([gear('w1', 'n1'), gear('w2', 'n1')], [node('n2'), node('n3')]));
    assert.deepEqual(plan.moves.map((m) => m.to).sort(), ['n2', 'n3']);
  });

  it('moves nothing when no gear of the app was on a lost node', () => {
    assert.deepEqual(planMoves(input([gear('w2', 'n2')], [node('n2')])), { moves: [], stuck: [], degraded: null });
  });

  it('leaves a gear that fits nowhere where it is, with the shortfall', () => {
    const plan = planMoves(input([gear('w1', 'n1')], [node('n2', { allocatedMb: 1000 })]));
    assert.deepEqual(plan.moves, []);
    assert.equal(plan.stuck.length, 1);
    assert.match(plan.stuck[0].reason, /n2 has 24 MB free/);
  });

  it('does not move a database: the app is degraded, with the reason and the command that recovers it', () => {
    const plan = planMoves(input([gear('db', 'n1', 'postgresql-15'), gear('w1', 'n2', 'nodejs-24')], [node('n2'), node('n3')]));
    assert.deepEqual(plan.moves, []);
    assert.equal(
      plan.degraded,
      'its data is on a lost node: postgresql-15 (on lab-1); restore its latest snapshot onto another node with gearshift apps recover shop',
    );
  });

  it("keeps web gears on the services' node while other nodes cannot reach the services", () => {
    const plan = planMoves(input([gear('db', 'n3', 'postgresql-15', { ports: {} }), gear('w1', 'n1')], [node('n2'), node('n3', { allocatedMb: 512 })]));
    assert.deepEqual(plan.moves, [{ gearId: 'w1', cartridge: 'nodejs-24', from: 'n1', to: 'n3' }]);
  });

  it('spreads web gears once the services publish their ports where other nodes reach them', () => {
    const plan = planMoves(
      input([gear('db', 'n3', 'postgresql-15', { ports: { pg: 40001 } }), gear('w1', 'n1'), gear('w3', 'n3')], [node('n2'), node('n3', { allocatedMb: 512 })]),
    );
    assert.deepEqual(plan.moves, [{ gearId: 'w1', cartridge: 'nodejs-24', from: 'n1', to: 'n2' }]);
  });
});

describe('placeRecovery (the operator recovers a degraded app)', () => {
  it('places every data gear of the app that was on a lost node together, on the node with the most room', () => {
    const r = placeRecovery(
      [gear('db', 'n1', 'postgresql-15'), gear('cache', 'n1', 'redis-7'), gear('w1', 'n2')],
      new Map([['n1', 'lab-1']]),
      [node('n2', { allocatedMb: 256 }), node('n3')],
      (c) => c.startsWith('nodejs'),
      now,
      3000,
    );
    assert.equal(r.ok, true);
    assert.equal((r as { nodeId: string }).nodeId, 'n3');
    assert.deepEqual(
      (r as { gears: GearSeen[] }).gears.map((g) => g.id),
      ['db', 'cache'],
    );
  });

  it('says so when there is nothing to recover', () => {
    const r = placeRecovery([gear('db', 'n2', 'postgresql-15')], new Map([['n1', 'lab-1']]), [node('n2')], () => false, now, 3000);
    assert.deepEqual(r, { ok: false, reason: 'none of its data gears is on a lost node' });
  });
});
