import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { NextFunction, Request, Response } from 'express';
import type { AuditDescription } from './actions';
import { AuditMiddleware } from './audit.middleware';
import type { AuditActor, AuditService } from './audit.service';

interface Recorded {
  what: AuditDescription;
  actor: AuditActor;
  status: number;
  answer: unknown;
}

/** The middleware against a fake request and response, and an audit service that keeps what it is given. */
function harness(req: Record<string, unknown>, pushes: Record<string, string> = {}) {
  const recorded: Recorded[] = [];
  const audit = {
    record: (what: AuditDescription, actor: AuditActor, status: number, answer: unknown) => recorded.push({ what, actor, status, answer }),
    pushAddress: (token: string) => pushes[token],
  } as unknown as AuditService;
  const res = Object.assign(new EventEmitter(), {
    statusCode: 200,
    headersSent: false,
    writableFinished: false,
    ended: false,
    json(this: { end: () => void }, _body: unknown) {
      this.end();
      return this;
    },
    end(this: { ended: boolean }) {
      this.ended = true;
      return this;
    },
  });
  const request = {
    method: 'PUT',
    route: { path: '/api/v1/domains/:domain/apps/:app/scale' },
    params: { domain: 'shop', app: 'web' },
    query: {},
    body: { replicas: 2 },
    headers: {},
    ip: '::ffff:10.1.2.3',
    socket: {},
    originalUrl: '/api/v1/domains/shop/apps/web/scale',
    user: { id: 'u1', username: 'ann' },
    session: { tokenId: 't1', scopes: ['admin'], tokenKind: 'personal', tokenName: 'ci' },
    ...req,
  };
  let nexted = false;
  new AuditMiddleware(audit).use(request as unknown as Request, res as unknown as Response, (() => (nexted = true)) as NextFunction);
  assert.ok(nexted);
  return { recorded, res: res as typeof res & Response };
}

describe('audit middleware', () => {
  it('records a change once answered, with its user, token, address and the operation it started', () => {
    const { recorded, res } = harness({});
    res.statusCode = 202;
    res.json({ operation: { id: 'op' } });
    assert.equal(recorded.length, 0, 'recorded before the answer went');
    Object.assign(res, { writableFinished: true, headersSent: true });
    res.emit('close');
    assert.equal(recorded.length, 1);
    const [r] = recorded;
    assert.deepEqual([r.what.action, r.what.target, r.status, r.answer], ['app.scale', 'shop/web', 202, { operation: { id: 'op' } }]);
    assert.deepEqual(r.actor, { user: { id: 'u1', username: 'ann' }, username: null, token: { id: 't1', kind: 'personal', name: 'ci' }, address: '10.1.2.3' });
  });

  it('records a change whose client left before the answer when the answer comes, not before', () => {
    const { recorded, res } = harness({});
    res.emit('close');
    assert.equal(recorded.length, 0);
    res.statusCode = 202;
    res.json({ operation: { id: 'op' } });
    assert.equal(recorded.length, 1);
    assert.deepEqual([recorded[0].status, recorded[0].what.details], [202, { replicas: 2, clientLeft: true }]);
  });

  it('records nothing for a read, an unknown route, or a refusal of someone unknown but a login', () => {
    const join = { method: 'POST', route: { path: '/api/v1/nodes/register' }, params: {}, body: { name: 'n1' }, user: undefined, session: undefined };
    for (const req of [{ method: 'GET' }, { route: undefined }, { user: undefined, session: undefined }, join]) {
      const { recorded, res } = harness(req);
      res.statusCode = 401;
      Object.assign(res, { writableFinished: true, headersSent: true });
      res.emit('close');
      assert.deepEqual(recorded, [], JSON.stringify(req));
    }
    const { recorded, res } = harness({
      method: 'POST',
      route: { path: '/api/v1/auth/login' },
      params: {},
      body: { username: 'ann', password: 'x' },
      user: undefined,
      session: undefined,
    });
    res.statusCode = 401;
    Object.assign(res, { writableFinished: true, headersSent: true });
    res.emit('close');
    assert.deepEqual([recorded[0].what.action, recorded[0].actor.username, recorded[0].actor.user], ['session.login_failed', 'ann', null]);
    const joined = harness(join);
    Object.assign(joined.res, { writableFinished: true, headersSent: true });
    joined.res.emit('close');
    assert.deepEqual([joined.recorded[0].what.action, joined.recorded[0].what.target, joined.recorded[0].status], ['node.join', 'n1', 200]);
  });

  it("takes a push's deployment to come from the pusher, not from the hook on the broker", () => {
    const headers = { authorization: 'Bearer tok', 'x-gearshift-source': 'git-push' };
    const route = { path: '/api/v1/domains/:domain/apps/:app/deployments' };
    const pushed = harness({ method: 'POST', route, headers, body: Buffer.from('x'), ip: '127.0.0.1' }, { tok: '192.0.2.7' });
    Object.assign(pushed.res, { writableFinished: true, headersSent: true });
    pushed.res.emit('close');
    assert.deepEqual([pushed.recorded[0].actor.address, pushed.recorded[0].what.details.source], ['192.0.2.7', 'git']);
    // The same header with a token that is not pushing right now proves nothing.
    const claimed = harness({ method: 'POST', route, headers, body: Buffer.from('x'), ip: '127.0.0.1' });
    Object.assign(claimed.res, { writableFinished: true, headersSent: true });
    claimed.res.emit('close');
    assert.equal(claimed.recorded[0].actor.address, '127.0.0.1');
  });
});
