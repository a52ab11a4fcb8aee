import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { GearshiftError } from '../common/errors';
import { AuthGuard, NeedsScope, Public } from './auth.guard';
import type { AuthService, Session } from './auth.service';
import type { User } from './user.entity';

class Routes {
  @Public() health() {}
  list() {}
  create() {}
  @NeedsScope('deploy') deploy() {}
  @NeedsScope('read') logout() {}
}

const user = { id: 'u1', username: 'ci', isAdmin: false } as User;

function guardFor(scopes: string[]) {
  const auth = { authenticate: async (): Promise<Session> => ({ user, tokenId: 't1', scopes }) } as unknown as AuthService;
  return new AuthGuard(auth, new Reflector());
}

function context(method: string, handler: keyof Routes) {
  const req: { method: string; headers: Record<string, string>; user?: User } = { method, headers: { authorization: 'Bearer x' } };
  const ctx = {
    getHandler: () => Routes.prototype[handler],
    getClass: () => Routes,
    switchToHttp: () => ({ getRequest: () => req }),
  } as unknown as ExecutionContext;
  return { ctx, req };
}

async function outcome(scopes: string[], method: string, handler: keyof Routes): Promise<string> {
  const { ctx, req } = context(method, handler);
  try {
    assert.equal(await guardFor(scopes).canActivate(ctx), true);
    return req.user || handler === 'health' ? 'allowed' : 'no user';
  } catch (err) {
    assert.ok(err instanceof GearshiftError);
    return `${err.code}: ${err.message}`;
  }
}

describe('auth guard scope check', () => {
  it('lets each scope through exactly the routes it covers', async () => {
    const cases: [string[], string, keyof Routes, boolean][] = [
      [['read'], 'GET', 'list', true],
      [['read'], 'POST', 'create', false],
      [['read'], 'POST', 'deploy', false],
      [['read'], 'POST', 'logout', true],
      [['deploy'], 'GET', 'list', true],
      [['deploy'], 'POST', 'deploy', true],
      [['deploy'], 'POST', 'create', false],
      [['admin'], 'POST', 'create', true],
      [['admin'], 'DELETE', 'create', true],
      [['admin'], 'POST', 'deploy', true],
      [[], 'GET', 'list', false],
    ];
    for (const [scopes, method, handler, allowed] of cases) {
      const result = await outcome(scopes, method, handler);
      assert.equal(result === 'allowed', allowed, `${scopes.join('+') || '(none)'} ${method} ${handler}: ${result}`);
      if (!allowed) assert.match(result, /^insufficient_scope: this token lacks the scope "(read|deploy|admin)"/);
    }
  });

  it('names the scope a refused call needs', async () => {
    assert.match(await outcome(['read'], 'POST', 'create'), /lacks the scope "admin"/);
    assert.match(await outcome(['read'], 'POST', 'deploy'), /lacks the scope "deploy"/);
  });

  it('asks no token of a public route', async () => {
    const { ctx } = context('GET', 'health');
    const auth = { authenticate: () => assert.fail('a public route authenticates nobody') } as unknown as AuthService;
    assert.equal(await new AuthGuard(auth, new Reflector()).canActivate(ctx), true);
  });
});
