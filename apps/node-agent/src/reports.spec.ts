import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BrokerJobs } from '@gearshift/cartridges';
import { StepBatcher } from './reports';

type Report = BrokerJobs['operation.report'];

function setup(windowMs = 30) {
  const sent: Report[] = [];
  const batcher = new StepBatcher('n1', async (r) => void sent.push(r), assert.fail, windowMs);
  return { sent, batcher };
}
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));
const texts = (r: Report) => (r.steps ?? []).map((s) => s.text);

describe('StepBatcher', () => {
  it('sends the steps of one operation taken within the window as one report', async () => {
    const { sent, batcher } = setup();
    batcher.step('op1', 'a1', 'creating gear');
    batcher.step('op1', 'a1', 'waiting for its health check');
    batcher.step('op2', 'a2', 'removing 1 container(s)');
    assert.equal(sent.length, 0, 'nothing before the window ends');
    await settle(60);
    assert.equal(sent.length, 2);
    const one = sent.find((r) => r.operationId === 'op1')!;
    assert.deepEqual([one.phase, one.nodeId, one.appId, one.step, one.gears], ['step', 'n1', 'a1', undefined, []]);
    assert.deepEqual(texts(one), ['creating gear', 'waiting for its health check']);
    assert.ok(one.steps![0].at <= one.steps![1].at);
    assert.deepEqual(texts(sent.find((r) => r.operationId === 'op2')!), ['removing 1 container(s)']);
  });

  it("puts the steps still waiting into the operation's next report, before its own, and sends nothing later", async () => {
    const { sent, batcher } = setup();
    batcher.step('op1', 'a1', 'creating gear');
    await batcher.report({ operationId: 'op1', nodeId: 'n1', appId: 'a1', phase: 'succeeded', at: Date.now(), gears: [] });
    await settle(60);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].phase, 'succeeded');
    assert.deepEqual(texts(sent[0]), ['creating gear']);
  });

  it('sends a report of an operation with no waiting steps as it is, and flushes what waits when stopping', async () => {
    const { sent, batcher } = setup(10_000);
    const outcome: Report = { operationId: 'op1', nodeId: 'n1', appId: 'a1', phase: 'failed', at: 1, error: 'no', gears: [] };
    await batcher.report(outcome);
    assert.deepEqual(sent, [outcome]);
    batcher.step('op2', 'a2', 'stopping gear');
    await batcher.flush();
    assert.deepEqual(texts(sent[1]), ['stopping gear']);
  });
});
