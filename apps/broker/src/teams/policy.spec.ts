import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ACTIONS, ROLES, decide, leastRole, type Action, type Role } from './policy';

describe('team policy', () => {
  it('allows each role exactly the actions of the table', () => {
    const expected: Record<Role, Record<Action, 'allow' | 'forbid'>> = {
      owner: { read: 'allow', develop: 'allow', own: 'allow' },
      developer: { read: 'allow', develop: 'allow', own: 'forbid' },
      viewer: { read: 'allow', develop: 'forbid', own: 'forbid' },
    };
    for (const role of ROLES) {
      for (const action of ACTIONS) assert.equal(decide({ isAdmin: false }, role, action), expected[role][action], `${role} ${action}`);
    }
  });

  it('hides a team from whoever is not in it, whatever the action', () => {
    for (const action of ACTIONS) assert.equal(decide({ isAdmin: false }, null, action), 'hide');
  });

  it('lets administrators do everything, member or not', () => {
    for (const action of ACTIONS) {
      assert.equal(decide({ isAdmin: true }, null, action), 'allow');
      assert.equal(decide({ isAdmin: true }, 'viewer', action), 'allow');
    }
  });

  it('names the least role an action needs', () => {
    assert.deepEqual(
      ACTIONS.map((a) => leastRole(a)),
      ['viewer', 'developer', 'owner'],
    );
  });
});
