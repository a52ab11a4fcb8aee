import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, Platform, sleep } from './support/platform';
import { freePort } from './support/processes';

interface Health {
  brokerId: string;
  leader: boolean;
  brokers: { id: string; host: string; version: string; leader: boolean; lastSeen: string }[];
}

/**
 * Two brokers on one database and one Redis prefix, as behind a load balancer: either answers for everything, one
 * of them leads the loops that must run once, and when the leader is killed the other takes over within seconds.
 */
describe('two brokers', { timeout: 600_000 }, () => {
  let p: Platform;
  let second = 0;
  const apps = '/domains/pair/apps';

  /** The REST API of the broker on `port`, with the platform's token. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers of any path
  const at = async <T = any>(port: number, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${p.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  };
  const health = async (port: number): Promise<Health | null> => {
    // The brokers by name are for an administrator's eyes.
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/healthz`, { headers: { authorization: `Bearer ${p.token}` } }).catch(() => null);
    return res?.status === 200 ? ((await res.json()) as Health) : null;
  };
  /** The agent stops answering (as a node whose host froze) or answers again. */
  const pauseAgent = (paused: boolean) => p.agents.get('node1')!.child.kill(paused ? 'SIGSTOP' : 'SIGCONT');

  before(async () => {
    // A short operation deadline, so the sweeper's work shows within the test; every real operation here takes seconds.
    p = await Platform.start('brokers', { node1: {} }, { env: { GEARSHIFT_OPERATION_TIMEOUT_MS: '20000' } });
    second = await freePort();
    await p.startBroker(second);
    assert.equal((await p.api('POST', '/domains', { name: 'pair' })).status, 201);
  });
  after(async () => {
    if (p?.agents.get('node1')?.alive) pauseAgent(false);
    await p?.stop();
  });

  it('answers through either broker, with one leader between them', async () => {
    const made = await at(p.port, 'POST', `${apps}?wait=120`, { name: 'first', cartridges: ['static'] });
    assert.equal(made.body.operation?.state, 'succeeded', `${JSON.stringify(made.body)}\n${p.logs()}`);
    const read = await at(second, 'GET', `${apps}/first`);
    assert.equal(read.status, 200);
    assert.equal(read.body.status, 'running');

    const [a, b] = await Promise.all([health(p.port), health(second)]);
    assert.ok(a && b);
    // The first broker started first and leads; the second follows, and both list the same two brokers.
    assert.equal(a.leader, true);
    assert.equal(b.leader, false);
    for (const h of [a, b]) {
      assert.deepEqual(h.brokers.map((x) => x.id).sort(), [a.brokerId, b.brokerId].sort());
      assert.deepEqual(
        h.brokers.filter((x) => x.leader).map((x) => x.id),
        [a.brokerId],
      );
      assert.ok(h.brokers.every((x) => x.version && x.host && Date.now() - Date.parse(x.lastSeen) < 10_000));
    }
  });

  it('counts failed logins across brokers: a guesser gets no more attempts by going through both', async () => {
    const guess = (port: number, i: number) => at(port, 'POST', '/auth/login', { username: 'nobody-here', password: `guess-${i}` });
    // The limit is 10 a minute per user name and per address; half the guesses go to each broker.
    for (let i = 0; i < 10; i++) assert.equal((await guess(i % 2 === 0 ? p.port : second, i)).status, 401, `guess ${i}`);
    for (const port of [p.port, second]) {
      const refused = await guess(port, 10);
      assert.equal(refused.status, 429, `broker on ${port}: ${JSON.stringify(refused.body)}`);
      assert.match(refused.body.message, /too many failed logins/);
    }
  });

  it('ends a ?wait= and a followed log on one broker as soon as the other ends the operation', async () => {
    pauseAgent(true);
    try {
      const made = await at(p.port, 'POST', apps, { name: 'held', cartridges: ['static'] });
      assert.equal(made.status, 202);
      const opId = made.body.operation.id;
      const t0 = Date.now();
      const waiting = at(second, 'GET', `/operations/${opId}?wait=60`);
      // A follower of the operation's progress (as `git push` is) on the other broker, cut off after 30 s at most.
      const following = fetch(`http://127.0.0.1:${second}/api/v1/operations/${opId}/log?follow=true`, {
        headers: { authorization: `Bearer ${p.token}` },
        signal: AbortSignal.timeout(30_000),
      }).then((res) => res.text());
      await sleep(1000);
      // The first broker ends it: only its own process hears of it at once.
      const cancelled = await at(p.port, 'POST', `/operations/${opId}/cancel`);
      assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
      const seen = await waiting;
      assert.equal(seen.body.state, 'failed');
      assert.match(seen.body.error, /cancelled by admin/);
      assert.ok(Date.now() - t0 < 10_000, `the wait took ${Date.now() - t0} ms`);
      const log = await following;
      assert.match(log, /failed: cancelled by admin/);
      assert.ok(Date.now() - t0 < 10_000, `the followed log ended after ${Date.now() - t0} ms`);
    } finally {
      pauseAgent(false);
    }
  });

  it('moves the leadership to the other broker within 5 s of a kill -9, and its loops run', async () => {
    const leader = p.broker!;
    const t0 = Date.now();
    await leader.kill('SIGKILL');
    const took = await eventually('the second broker to lead', async () => ((await health(second))?.leader ? Date.now() - t0 : null), 10_000, 50);
    assert.ok(took < 5000, `leadership moved after ${took} ms`);
    const h = (await health(second))!;
    assert.deepEqual(
      h.brokers.map((x) => [x.id, x.leader]),
      [[h.brokerId, true]],
      'the killed broker is no longer listed',
    );

    // The survivor's sweeper: an operation whose node has stopped answering ends, failed, at its deadline.
    pauseAgent(true);
    let stuck: string;
    try {
      const made = await at(second, 'POST', apps, { name: 'stuck', cartridges: ['static'] });
      assert.equal(made.status, 202);
      stuck = made.body.operation.id;
      const swept = await at(second, 'GET', `/operations/${stuck}?wait=60`);
      assert.equal(swept.body.state, 'failed', `${JSON.stringify(swept.body)}\n${p.logs()}`);
      assert.match(swept.body.error, /timed out after 20 s waiting for node/);
    } finally {
      pauseAgent(false);
    }

    // The node answers again, and an app made through the survivor runs.
    await eventually('the node to be ready again', async () => (await at(second, 'GET', '/nodes')).body.every((n: { ready: boolean }) => n.ready), 30_000);
    const made = await at(second, 'POST', `${apps}?wait=120`, { name: 'after', cartridges: ['static'] });
    assert.equal(made.body.operation?.state, 'succeeded', `${JSON.stringify(made.body)}\n${p.logs()}`);
    assert.equal((await at(second, 'GET', `${apps}/after`)).body.status, 'running');
  });

  it('takes the killed broker back as a follower', async () => {
    await p.startBroker();
    const [a, b] = await Promise.all([health(p.port), health(second)]);
    assert.ok(a && b);
    assert.equal(a.leader, false);
    assert.equal(b.leader, true);
    assert.deepEqual(
      a.brokers.filter((x) => x.leader).map((x) => x.id),
      [b.brokerId],
    );
    assert.equal(a.brokers.length, 2);
    assert.equal((await at(p.port, 'GET', `${apps}/after`)).body.status, 'running');
  });
});
