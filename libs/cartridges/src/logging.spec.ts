import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { currentRequestId, loggerOptions, withRequestId } from './logging';
import { jobRequestId, readNodeJob, stamp } from './jobs';

/** A logger of `part` whose lines are collected, parsed. */
function collecting(part: string) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino(loggerOptions(part, 'info'), sink), lines };
}

describe('structured logs', () => {
  it('writes JSON lines with the part, a level name and an ISO time', () => {
    const { log, lines } = collecting('agent');
    log.info('ready');
    assert.equal(lines.length, 1);
    assert.equal(lines[0].part, 'agent');
    assert.equal(lines[0].level, 'info');
    assert.equal(lines[0].msg, 'ready');
    assert.match(String(lines[0].time), /^\d{4}-\d\d-\d\dT/);
  });

  it('adds the request id to every line written while working for a request, across awaits', async () => {
    const { log, lines } = collecting('broker');
    await withRequestId('req-1', async () => {
      log.info('before');
      await new Promise((r) => setTimeout(r, 1));
      log.info('after');
    });
    log.info('outside');
    assert.deepEqual(
      lines.map((l) => [l.msg, l.requestId]),
      [
        ['before', 'req-1'],
        ['after', 'req-1'],
        ['outside', undefined],
      ],
    );
    // A logger already bound to the request does not say it twice.
    withRequestId('req-2', () => log.child({ requestId: 'req-2' }).info('bound'));
    assert.equal(JSON.stringify(lines[3]).match(/req-2/g)?.length, 1);
  });

  it('never writes credentials, passwords or environment values', () => {
    const { log, lines } = collecting('broker');
    log.info(
      { req: { headers: { authorization: 'Bearer s3cret-token', cookie: 'sid=abc' } }, password: 'hunter2', spec: { env: { PGPASSWORD: 'pw' }, token: 't' } },
      'x',
    );
    const text = JSON.stringify(lines[0]);
    for (const secret of ['s3cret-token', 'sid=abc', 'hunter2', 'PGPASSWORD', '"t"']) assert.ok(!text.includes(secret), `${secret} in ${text}`);
  });

  it('stamps the request id on a job queued while working for a request, and reads it back', () => {
    const plain = stamp({ appId: 'a' });
    assert.equal(jobRequestId(plain), undefined);
    assert.equal(
      withRequestId('req-9', () => jobRequestId(stamp({ appId: 'a' }))),
      'req-9',
    );
    assert.equal(jobRequestId({ requestId: 'x'.repeat(65) }), undefined);
    assert.equal(jobRequestId(null), undefined);
    // The receiving side hands its handler the payload alone.
    assert.deepEqual(readNodeJob('node.ping', stamp({ sentAt: 1 }, 'req-9')), { name: 'node.ping', data: { sentAt: 1 } });
    assert.equal(currentRequestId(), undefined);
  });
});
