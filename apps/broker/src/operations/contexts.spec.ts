import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { contextOf, newContext } from './contexts';

describe('contextOf', () => {
  it("reads the context of an operation of one of the kinds asked for, as that kind's", () => {
    const context = { stage: 'surge' as const, deploymentId: 'd2', previousDeploymentId: 'd1' };
    assert.deepEqual(contextOf({ id: 'op1', kind: 'app.activate', context }, 'app.deploy', 'app.activate'), {
      stage: 'surge',
      deploymentId: 'd2',
      previousDeploymentId: 'd1',
    });
    assert.deepEqual(contextOf({ id: 'op2', kind: 'app.snapshot', context: { token: 't0k3n', domain: 'acme' } }, 'app.snapshot'), {
      token: 't0k3n',
      domain: 'acme',
    });
  });

  it('refuses an operation of another kind, naming it and the kinds asked for', () => {
    assert.throws(() => contextOf({ id: 'op3', kind: 'app.scale', context: {} }, 'app.deploy', 'app.activate'), {
      message: 'operation op3 is app.scale, not app.deploy or app.activate',
    });
  });
});

describe('newContext', () => {
  it('stores the context of a new operation as given', () => {
    assert.deepEqual(newContext('app.restore', { token: 't0k3n' }), { token: 't0k3n' });
  });
});
