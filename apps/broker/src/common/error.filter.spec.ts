import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ArgumentsHost } from '@nestjs/common';
import { ErrorFilter, storeUnavailable } from './error.filter';

describe('the error filter', () => {
  it("logs an internal error with the route's template, never the path and query it came with", () => {
    const filter = new ErrorFilter();
    const logged: string[] = [];
    (filter as unknown as { logger: { error: (m: string) => void } }).logger = { error: (m: string) => logged.push(m) };
    const req = {
      method: 'POST',
      originalUrl: '/api/v1/domains/demo/apply?allowDataLoss=true&token=secret123',
      url: '/api/v1/domains/demo/apply?allowDataLoss=true&token=secret123',
      baseUrl: '',
      route: { path: '/api/v1/domains/:domain/apply' },
      id: 'req-1',
    };
    let sent: { status?: number; body?: { statusCode: number; code: string } } = {};
    const res = {
      headersSent: false,
      set: () => res,
      status: (status: number) => ((sent.status = status), res),
      json: (body: { statusCode: number; code: string }) => ((sent = { ...sent, body }), res),
      end: () => res,
    };
    const host = { switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }) } as unknown as ArgumentsHost;
    filter.catch(new Error('duplicate key'), host);
    assert.equal(sent.status, 500);
    assert.equal(sent.body?.code, 'internal');
    assert.equal(logged.length, 1);
    assert.match(logged[0], /^POST \/api\/v1\/domains\/:domain\/apply \[req-1\] Error: duplicate key/);
    assert.doesNotMatch(logged[0], /allowDataLoss|secret123|demo/);
  });

  it('says a body of a JSON value that is not an object is the wrong type, and one that is not JSON is not JSON', () => {
    const answer = (err: object) => {
      let body: { message?: string; details?: { rule: string }[] } = {};
      const res = { headersSent: false, set: () => res, status: () => res, json: (b: typeof body) => ((body = b), res), end: () => res };
      const req = { method: 'POST', originalUrl: '/api/v1/domains', url: '/api/v1/domains', baseUrl: '' };
      const host = { switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }) } as unknown as ArgumentsHost;
      new ErrorFilter().catch(Object.assign(new SyntaxError('Unexpected token'), err), host);
      return [body.message, body.details?.[0]?.rule];
    };
    assert.deepEqual(answer({ type: 'entity.parse.failed', body: 'null' }), ['the body must be a JSON object, not null', 'type']);
    assert.deepEqual(answer({ type: 'entity.parse.failed', body: ' 42 ' }), ['the body must be a JSON object, not number', 'type']);
    assert.deepEqual(answer({ type: 'entity.parse.failed', body: '{"a":' }), ['the body is not valid JSON: Unexpected token', 'json']);
  });

  it('answers 503 with Retry-After, not 500, when the database had no connection free or lost it', () => {
    const answer = (err: Error) => {
      const sent: { status?: number; headers: Record<string, string>; body?: { code: string; message: string } } = { headers: {} };
      const res = {
        headersSent: false,
        set: (k: string, v: string) => ((sent.headers[k] = v), res),
        status: (status: number) => ((sent.status = status), res),
        json: (body: { code: string; message: string }) => ((sent.body = body), res),
        end: () => res,
      };
      const req = { method: 'POST', originalUrl: '/api/v1/domains/d/apps', url: '/api/v1/domains/d/apps', baseUrl: '', id: 'r' };
      const host = { switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }) } as unknown as ArgumentsHost;
      const filter = new ErrorFilter();
      (filter as unknown as { logger: { warn: () => void; error: () => void } }).logger = { warn: () => undefined, error: () => undefined };
      filter.catch(err, host);
      return sent;
    };
    const pool = answer(new Error('timeout exceeded when trying to connect'));
    assert.deepEqual([pool.status, pool.body?.code, pool.headers['Retry-After']], [503, 'unavailable', '2']);
    assert.match(pool.body?.message ?? '', /database is not answering now \(no connection to it came free in time\); try again/);
    const restarting = Object.assign(new Error('terminating connection due to administrator command'), { driverError: { code: '57P01', message: 'x' } });
    assert.equal(answer(restarting).status, 503);
    assert.equal(answer(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })).status, 503);
    // Over the Unix socket, a stopped Postgres leaves no socket file: the same 503, but not any missing file.
    const socketGone = answer(Object.assign(new Error('connect ENOENT /var/run/postgresql/.s.PGSQL.5432'), { code: 'ENOENT', syscall: 'connect' }));
    assert.deepEqual([socketGone.status, socketGone.body?.code], [503, 'unavailable']);
    assert.equal(storeUnavailable(Object.assign(new Error("ENOENT: no such file or directory, open '/x'"), { code: 'ENOENT', syscall: 'open' })), undefined);
    // Any other failure of a query is the broker's own: 500.
    assert.equal(storeUnavailable(Object.assign(new Error('duplicate key value'), { code: '23505' })), undefined);
    assert.equal(answer(new Error('duplicate key value')).status, 500);
  });
});
