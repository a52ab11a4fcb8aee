import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { healthAnswer, type HealthFacts } from './health-answer';

const facts: HealthFacts = {
  postgres: true,
  redis: true,
  nodes: [
    { name: 'node-a.internal', ready: true, state: 'active' },
    { name: 'node-b.internal', ready: false, state: 'draining' },
  ],
  version: { version: '1.2.3', commit: 'abc' },
  brokerId: 'broker-a.internal:8080',
  leader: true,
  brokers: [{ id: 'broker-a.internal:8080', host: 'broker-a.internal', version: '1.2.3', leader: true, lastSeen: 'x', since: 'y' }],
};

describe('healthAnswer', () => {
  it('tells a stranger what is up and how many, and no host or node name', () => {
    const body = healthAnswer(facts, false);
    assert.deepEqual(body, {
      status: 'ok',
      broker: 'up',
      postgres: 'up',
      redis: 'up',
      ready: true,
      counts: { nodes: 2, readyNodes: 1, brokers: 1 },
      version: { version: '1.2.3', commit: 'abc' },
      leader: true,
    });
    assert.doesNotMatch(JSON.stringify(body), /internal/);
  });

  it('gives an administrator the nodes and brokers by name', () => {
    const body = healthAnswer({ ...facts, redis: false }, true);
    assert.equal(body.status, 'degraded');
    assert.equal(body.redis, 'down');
    assert.deepEqual(body.nodes, facts.nodes);
    assert.deepEqual(body.brokers, facts.brokers);
    assert.equal(body.brokerId, 'broker-a.internal:8080');
  });

  it('is not ready while no node is', () => {
    assert.equal(healthAnswer({ ...facts, nodes: [] }, false).ready, false);
  });
});
