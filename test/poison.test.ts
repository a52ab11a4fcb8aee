import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { Queue, type ConnectionOptions } from 'bullmq';
import IORedis from 'ioredis';
import { JOB_CONTRACT_VERSION, nodeQueue, stamp, type GearSpec, type NodeJobs } from '@gearshift/cartridges';
import { eventually, Platform, sleep } from './support/platform';

/**
 * Poison inputs at each boundary the platform takes input from: image references that reach Docker, git URLs that
 * fail or hang, archives that are not archives. Each ends as a failed operation (or a 4xx) with its reason; the
 * agent and broker keep serving other work; the app can be deleted. Operations that no node finishes end at their
 * deadline, and a user can cancel one.
 */
describe('poison inputs, deadlines and cancel', { timeout: 600_000 }, () => {
  let p: Platform;
  let hanging: Server;
  let hangPort = 0;
  const apps = '/domains/poison/apps';
  const TIMEOUT_S = 15;

  before(async () => {
    p = await Platform.start(
      'poison',
      { node1: {} },
      {
        // A short deadline, so that the test sees it pass; git gives up on a silent server after 3 s instead of 60.
        // Its git servers are on loopback, which the operator allows here.
        env: { GEARSHIFT_OPERATION_TIMEOUT_MS: String(TIMEOUT_S * 1000), GIT_HTTP_LOW_SPEED_TIME: '3', GEARSHIFT_FETCH_ALLOW: '127.0.0.1' },
      },
    );
    assert.equal((await p.api('POST', '/domains', { name: 'poison' })).status, 201);
    // A "git server" that accepts connections and never answers.
    hanging = createServer(() => undefined);
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    hangPort = (hanging.address() as { port: number }).port;
  });
  after(async () => {
    hanging?.close();
    await p?.stop();
  });

  const agentAlive = () => p.agents.get('node1')!.alive;

  it('fails an app whose image is on a registry that does not resolve, at once and with the reason', async () => {
    const res = await p.api('POST', `${apps}?wait=120`, {
      name: 'nohost',
      cartridges: [{ name: 'docker-image', image: 'images.invalid/team/api:1.0', port: 8080 }],
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.operation.state, 'failed', `${JSON.stringify(res.body.operation)}\n${p.logs()}`);
    assert.match(res.body.operation.error, /image images\.invalid\/team\/api:1\.0 could not be pulled: .*images\.invalid/);
    assert.ok(agentAlive(), `the agent died:\n${p.logs()}`);
    const del = await p.api('DELETE', `${apps}/nohost?wait=60`);
    assert.equal(del.status, 202);
    assert.equal(del.body.operation.state, 'succeeded', del.body.operation.error);
    assert.equal((await p.api('GET', `${apps}/nohost`)).status, 404);
  });

  it("survives a reference Docker answers with a redirect, sent straight to the node's queue, and serves the next job", async () => {
    // Input that never passed the API's checks: the agent must hold regardless of where a job comes from.
    const nodes = await p.api('GET', '/nodes');
    const nodeId = nodes.body.find((n: { name: string }) => n.name === p.nodeName('node1')).id as string;
    const appId = randomUUID();
    const gear: GearSpec = {
      gearId: randomUUID(),
      appId,
      app: 'evil',
      domain: 'poison',
      cartridge: 'docker-image',
      web: true,
      image: { ref: 'file:///etc/passwd' },
      containerName: `${p.instance}-evil`,
      network: `${p.instance}-evil`,
      hostname: 'evil',
      aliases: ['docker-image'],
      env: {},
      ports: [],
      volumes: [],
      resources: { memoryMb: 64, cpus: 0.1, pids: 64 },
      health: { kind: 'none', timeoutSeconds: 5 },
      running: true,
      generation: 0,
    };
    const redis = new IORedis(process.env.REDIS_URL || 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
    const queue = new Queue(nodeQueue(nodeId), { connection: redis as unknown as ConnectionOptions, prefix: p.instance });
    try {
      const data: NodeJobs['app.converge'] = { appId, gears: [gear] };
      const job = await queue.add('app.converge', stamp(data), { attempts: 3, backoff: { type: 'fixed', delay: 200 } });
      const failed = await eventually(
        'the poison job to fail',
        async () => {
          const state = await job.getState();
          return state === 'failed' ? (await queue.getJob(job.id!))! : null;
        },
        60_000,
      );
      assert.match(failed.failedReason, /file:\/\/\/etc\/passwd.*empty or dot path segment/);
      assert.equal(failed.attemptsMade, 1, 'a reference Docker cannot take is not tried again');

      // A job of a contract version this agent does not speak is refused as it is, not guessed at.
      const newer = await queue.add(
        'app.converge',
        { ...data, contractVersion: JOB_CONTRACT_VERSION + 1 },
        { attempts: 3, backoff: { type: 'fixed', delay: 200 } },
      );
      const refused = await eventually(
        'the job of another contract version to fail',
        async () => ((await newer.getState()) === 'failed' ? (await queue.getJob(newer.id!))! : null),
        60_000,
      );
      assert.match(
        refused.failedReason,
        new RegExp(`^the broker speaks job contract v${JOB_CONTRACT_VERSION + 1}; this node agent speaks v${JOB_CONTRACT_VERSION}: upgrade this node agent`),
      );
      assert.equal(refused.attemptsMade, 1, 'refused for good on the first attempt');
    } finally {
      await queue.close();
      redis.disconnect();
    }
    assert.ok(agentAlive(), `the agent died:\n${p.logs()}`);
    const next = await p.api('POST', `${apps}?wait=120`, { name: 'after', cartridges: ['static'] });
    assert.equal(next.body.operation.state, 'succeeded', next.body.operation.error);
  });

  it('refuses a node that speaks another job contract version when it joins, with 409 and which side to upgrade', async () => {
    const { token } = (await p.api('POST', '/nodes/tokens', {})).body as { token: string };
    const join = (contractVersion?: number) =>
      p.api('POST', '/nodes/register', { token, name: 'othercontract', memoryMb: 1024, maxGears: 10, contractVersion }, null);
    const newer = await join(JOB_CONTRACT_VERSION + 1);
    assert.equal(newer.status, 409, JSON.stringify(newer.body));
    assert.equal(newer.body.code, 'conflict');
    assert.equal(
      newer.body.message,
      `this node agent speaks job contract v${JOB_CONTRACT_VERSION + 1}; the broker speaks v${JOB_CONTRACT_VERSION}: upgrade the broker so that both speak the same version`,
    );
    assert.equal(newer.body.details[0].pointer, '/contractVersion');
    const unversioned = await join(undefined);
    assert.equal(unversioned.status, 409, JSON.stringify(unversioned.body));
    assert.match(unversioned.body.message, /without a version \(older than v1\).*upgrade this node agent/);
    const nodes = (await p.api('GET', '/nodes')).body as { name: string }[];
    assert.ok(!nodes.some((n) => n.name === 'othercontract'), 'the refused node was not recorded');
  });

  it('refuses an archive that is not one, and a git URL that fails or hangs, naming the field; the app stays deletable', async () => {
    const garbage = await fetch(`${p.baseUrl}/api/v1${apps}/after/deployments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/gzip' },
      body: Buffer.from('this is not a gzip stream at all'),
    });
    const garbageBody = (await garbage.json()) as { code: string; message: string };
    assert.ok(garbage.status >= 400 && garbage.status < 500, `${garbage.status} ${JSON.stringify(garbageBody)}`);
    assert.ok(garbageBody.code && garbageBody.message);

    const refused = await p.api('POST', `${apps}/after/deployments`, { git: { url: 'http://127.0.0.1:1/nothing.git', ref: 'main' } });
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    assert.equal(refused.body.details[0].pointer, '/git/url');

    const hung = await p.api('POST', `${apps}/after/deployments`, { git: { url: `http://127.0.0.1:${hangPort}/slow.git`, ref: 'main' } });
    assert.equal(hung.status, 422, JSON.stringify(hung.body));
    assert.equal(hung.body.details[0].pointer, '/git/url');
    assert.match(hung.body.message, /too slow|timed out/i);

    assert.ok(p.broker!.alive && agentAlive());
    const app = await p.api('GET', `${apps}/after`);
    assert.equal(app.body.status, 'running', JSON.stringify(app.body));
    const del = await p.api('DELETE', `${apps}/after?wait=60`);
    assert.equal(del.body.operation.state, 'succeeded', del.body.operation.error);
  });

  it('ends an operation no node finishes at its deadline, and lets a user cancel one; the app is free again', async () => {
    // With its agent gone, nothing the node is asked to do gets done.
    await p.stopAgent('node1', 'SIGKILL');
    const slow = await p.api('POST', apps, { name: 'stuck', cartridges: ['static'] });
    const created = Date.now();
    assert.equal(slow.status, 202, JSON.stringify(slow.body));
    const other = await p.api('POST', apps, { name: 'cancelled', cartridges: ['static'] });
    assert.equal(other.status, 202);
    const busy = await p.api('POST', `${apps}/cancelled/actions`, { action: 'restart' });
    assert.equal(busy.status, 409, 'busy while its operation runs');

    const cancel = await p.api('POST', `/operations/${other.body.operation.id}/cancel`);
    assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
    assert.equal(cancel.body.state, 'failed');
    assert.equal(cancel.body.error, 'cancelled by admin', JSON.stringify(cancel.body));
    const again = await p.api('POST', `/operations/${other.body.operation.id}/cancel`);
    assert.equal(again.status, 409, JSON.stringify(again.body));
    assert.match(again.body.message, /already ended \(failed\)/);
    assert.equal((await p.api('POST', `/operations/${randomUUID()}/cancel`)).status, 404);
    assert.equal((await p.api('POST', `/operations/${other.body.operation.id}/cancel`, undefined, null)).status, 401);
    const free = await p.api('PATCH', `${apps}/cancelled/env`, { GREETING: 'hello' });
    assert.equal(free.status, 202, `the app is free to change again: ${JSON.stringify(free.body)}`);
    await p.api('POST', `/operations/${free.body.operation.id}/cancel`);

    const timedOut = await p.api('GET', `/operations/${slow.body.operation.id}?wait=${TIMEOUT_S + 30}`);
    assert.equal(timedOut.body.state, 'failed', `after ${Date.now() - created} ms: ${JSON.stringify(timedOut.body)}\n${p.logs()}`);
    assert.match(timedOut.body.error, new RegExp(`timed out after ${TIMEOUT_S} s waiting for node\\(s\\) `), JSON.stringify(timedOut.body));

    // The node comes back: the withdrawn jobs are not run, and both apps can be deleted.
    await p.startAgent('node1');
    for (const name of ['stuck', 'cancelled']) {
      const del = await p.api('DELETE', `${apps}/${name}?wait=60`);
      assert.equal(del.status, 202, JSON.stringify(del.body));
      assert.equal(del.body.operation.state, 'succeeded', `${del.body.operation.error}\n${p.logs()}`);
    }
    await sleep(1000);
    assert.deepEqual((await p.containers({ 'gearshift.app-name': 'stuck' })).concat(await p.containers({ 'gearshift.app-name': 'cancelled' })), []);
  });
});
