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
    // Agents are held still (SIGSTOP) on purpose here, for longer than the tests' usual allowance of silence on a
    // loaded machine: a node declared lost would fail the operations the cases watch. Losing nodes is node-loss's.
    p = await Platform.start('brokers', { node1: {} }, { env: { GEARSHIFT_OPERATION_TIMEOUT_MS: '20000', GEARSHIFT_HEARTBEAT_TIMEOUT_MS: '60000' } });
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

  it('moves the leadership to the other broker within 5 s of a kill -9 of the leader, and its loops run', async () => {
    // The broker killed is the one that leads now, as both say.
    const [a, b] = await Promise.all([health(p.port), health(second)]);
    assert.equal(a?.leader, true, JSON.stringify(a));
    assert.equal(b?.leader, false, JSON.stringify(b));
    const leader = p.broker!;
    const t0 = Date.now();
    await leader.kill('SIGKILL');
    // The API answers through the other broker, reads and writes, as a load balancer would send them on.
    const answered = await eventually(
      'the second broker to answer',
      async () => {
        const [read, write] = await Promise.all([at(second, 'GET', `${apps}/first`), at(second, 'POST', '/domains', { name: 'pair2' })]);
        return read.status === 200 && write.status === 201 ? Date.now() - t0 : null;
      },
      10_000,
      50,
    );
    const took = await eventually('the second broker to lead', async () => ((await health(second))?.leader ? Date.now() - t0 : null), 10_000, 50);
    console.log(`leader killed: the other broker answered after ${answered} ms and led after ${took} ms`);
    assert.ok(answered < 5000, `the API answered after ${answered} ms`);
    assert.ok(took < 5000, `leadership moved after ${took} ms`);
    const h = (await health(second))!;
    assert.deepEqual(
      h.brokers.map((x) => [x.id, x.leader]),
      [[h.brokerId, true]],
      'the killed broker is no longer listed',
    );

    // The operation sweeper runs on the leader only, the survivor now: an operation whose node has stopped answering
    // ends, failed, at its deadline.
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

  it("drives on a node's drain whose broker died: the leader takes it over within a sweep", async () => {
    // A second node to drain onto; the first broker (a follower now) begins the drain, the second leads.
    await p.startAgent('node2');
    assert.equal((await health(second))?.leader, true);
    const node1 = p.nodeName('node1');
    const node2 = p.agents.get('node2')!.child;
    let drainId = '';
    // Every app made here has a gear on the first node.
    const names = ['first', 'held', 'stuck', 'after'];
    // The node the new gears start on holds still for a moment, so that the broker dies with a move under way.
    node2.kill('SIGSTOP');
    let killedAt = 0;
    try {
      const begun = await at(p.port, 'POST', `/nodes/${node1}/drain`);
      assert.equal(begun.status, 202, JSON.stringify(begun.body));
      drainId = begun.body.id;
      await eventually(
        'the drain to begin a move',
        async () => {
          const ops = await Promise.all(
            names.map(async (name) => (await at(second, 'GET', `${apps}/${name}/operations`)).body as { kind: string; state: string }[]),
          );
          return ops.flat().some((o) => o.kind === 'app.move' && (o.state === 'queued' || o.state === 'running'));
        },
        20_000,
        100,
      );
      await p.stopBroker('SIGKILL');
      killedAt = Date.now();
    } finally {
      node2.kill('SIGCONT');
    }
    const tookOver = await eventually(
      'the leader to take the drain over',
      async () => {
        const op = (await at(second, 'GET', `/operations/${drainId}`)).body as { steps: { text: string }[] };
        return op.steps.some((x) => /^broker \S+ drives the operation on: the broker that drove it stopped$/.test(x.text)) ? Date.now() - killedAt : null;
      },
      30_000,
      100,
    );
    const drained = await at(second, 'GET', `/operations/${drainId}?wait=120`);
    const texts: string[] = drained.body.steps.map((x: { text: string }) => x.text);
    console.log(`the drain's broker killed: the leader took it over after ${tookOver} ms\n  ${texts.join('\n  ')}`);
    assert.equal(drained.body.state, 'succeeded', `${drained.body.error}\n${texts.join('\n')}\n${p.logs()}`);
    // The leader's sweep runs every 5 s.
    assert.ok(tookOver < 8000, `taken over after ${tookOver} ms`);
    // The move under way when the broker died is told, then the others. On a loaded machine it may have run out of
    // its time meanwhile (its node held still): then that app's gears are moved again, and the drain still ends.
    const told = texts.map((t) => /^app (first|held|stuck|after): the move begun before \(operation \S+\) ended (succeeded|failed: .+)$/.exec(t)).find(Boolean);
    assert.ok(told, texts.join('\n'));
    if (told[2] !== 'succeeded')
      assert.ok(
        texts.some((t) => t.startsWith(`app ${told[1]}: `) && / gear\(s\) moved off /.test(t)),
        texts.join('\n'),
      );
    assert.equal(texts.at(-1), `node ${node1} drained: 0 gear(s) left on it`);
    for (const name of ['first', 'after']) {
      const app = (await at(second, 'GET', `${apps}/${name}`)).body as { gears: { node: string }[] };
      assert.ok(app.gears.length > 0 && app.gears.every((g) => g.node === p.nodeName('node2')), `${name}: ${JSON.stringify(app.gears)}`);
    }
  });
});
