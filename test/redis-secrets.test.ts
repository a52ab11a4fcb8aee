import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import IORedis from 'ioredis';
import { Queue, type ConnectionOptions } from 'bullmq';
import { BEATS_QUEUE, JOB_CONTRACT_VERSION, makeNodeKeyPair, nodeQueue, routesKey, SEALED_ROUTE_V1, SEALED_V1, type RouteTable } from '@gearshift/cartridges';
import { selfSigned, servedCertificate } from './support/certificates';
import { docker, eventually, Platform } from './support/platform';
import { REDIS_URL } from './support/stores';

/**
 * Secrets leave Redis: the platform's Redis refuses a client without credentials, each node reaches Redis as a user of
 * its own limited to its queue, and no key holds an env value, a generated password or a TLS private key in clear,
 * whether the job that carries it is waiting, done or failed.
 */

/** Every value of every key under `prefix:`, whatever its type, as text: what a reader of Redis could see. */
async function everything(redis: IORedis, prefix: string): Promise<Map<string, string>> {
  const seen = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      let value: unknown;
      if (type === 'string') value = await redis.get(key);
      else if (type === 'hash') value = await redis.hgetall(key);
      else if (type === 'list') value = await redis.lrange(key, 0, -1);
      else if (type === 'set') value = await redis.smembers(key);
      else if (type === 'zset') value = await redis.zrange(key, 0, -1, 'WITHSCORES');
      else if (type === 'stream') value = await redis.xrange(key, '-', '+');
      else value = `(${type})`;
      seen.set(key, JSON.stringify(value));
    }
  } while (cursor !== '0');
  return seen;
}

const holding = (all: Map<string, string>, needle: string) => [...all].filter(([, v]) => v.includes(needle)).map(([k]) => k);

describe('secrets leave Redis', { timeout: 600_000 }, () => {
  let p: Platform;
  let admin: IORedis;
  const apps = '/domains/vault/apps';
  const canary = `canary-${randomBytes(8).toString('hex')}`;
  const waitingCanary = `waiting-${randomBytes(8).toString('hex')}`;

  const nodeId = async (name: string) => ((await p.api('GET', '/nodes')).body as { id: string; name: string }[]).find((n) => n.name === name)!.id;
  /** The agent's saved state: its node id, key, private key and Redis user. */
  const agentState = () =>
    JSON.parse(readFileSync(join(p.dataDir, 'agents', `${p.instance}-${p.nodeName('node1')}.json`), 'utf8')) as {
      nodeId: string;
      privateKey: string;
      redis: { username: string; password: string };
    };
  const asUser = (username: string, password: string) => {
    const url = new URL(REDIS_URL);
    url.username = username;
    url.password = password;
    return new IORedis(url.toString(), { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true });
  };

  before(async () => {
    p = await Platform.start('redis-secrets', { node1: {} }, { router: true });
    admin = new IORedis(REDIS_URL);
    assert.equal((await p.api('POST', '/domains', { name: 'vault' })).status, 201);
    const res = await p.api('POST', `${apps}?wait=180`, { name: 'site', cartridges: ['static', 'redis-7'], env: { API_TOKEN: canary } });
    assert.equal(res.body.operation?.state, 'succeeded', JSON.stringify(res.body));
  });
  after(async () => {
    admin?.disconnect();
    await p?.stop();
  });

  it('refuses a client without credentials (NOAUTH)', async () => {
    const url = new URL(REDIS_URL);
    assert.ok(url.password, `the platform's Redis must require a password; REDIS_URL gives none (${url.host})`);
    const anonymous = new IORedis({ host: url.hostname, port: Number(url.port || 6379), lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 1 });
    try {
      await anonymous.connect();
      await assert.rejects(anonymous.get(routesKey(p.instance)), /NOAUTH/);
    } finally {
      anonymous.disconnect();
    }
  });

  it("gives each node a Redis user that reaches its own queue and is refused another node's", async () => {
    const state = agentState();
    assert.equal(state.nodeId, await nodeId(p.nodeName('node1')));
    assert.equal(state.redis.username, `${p.instance}-node-${state.nodeId}`);
    // Another node joins: it is given a Redis user of its own, once, in the answer.
    const token = (await p.api('POST', '/nodes/tokens', {})).body.token as string;
    // A public key that is not one is refused before the token is spent.
    const badKey = await p.api(
      'POST',
      '/nodes/register',
      { token, name: `${p.instance}-badkey`, memoryMb: 1024, maxGears: 10, contractVersion: JOB_CONTRACT_VERSION, publicKey: 'not-a-key' },
      null,
    );
    assert.equal(badKey.status, 400, JSON.stringify(badKey.body));
    assert.equal(badKey.body.details[0].pointer, '/publicKey');
    const joined = await p.api(
      'POST',
      '/nodes/register',
      { token, name: `${p.instance}-other`, memoryMb: 1024, maxGears: 10, contractVersion: JOB_CONTRACT_VERSION, publicKey: makeNodeKeyPair().publicKey },
      null,
    );
    assert.equal(joined.status, 200, JSON.stringify(joined.body));
    const otherId = joined.body.id as string;
    assert.equal(joined.body.redis.username, `${p.instance}-node-${otherId}`);

    const own = `${p.instance}:${nodeQueue(state.nodeId)}`;
    const others = `${p.instance}:${nodeQueue(otherId)}`;
    await admin.set(`${others}:probe`, 'not yours');
    await admin.set(`${own}:probe`, 'yours');
    const node = asUser(state.redis.username, state.redis.password);
    const other = asUser(joined.body.redis.username, joined.body.redis.password);
    try {
      await node.connect();
      assert.equal(await node.get(`${own}:probe`), 'yours');
      assert.ok((await node.exists(`${own}:meta`)) === 1, 'the worker of node1 keeps its queue meta');
      // Heartbeats go on a queue of their own, which every node may add to (BullMQ's script touches its keys).
      const beats = new Queue(BEATS_QUEUE, { connection: node as unknown as ConnectionOptions, prefix: p.instance });
      assert.ok((await beats.add('probe', {}, { removeOnComplete: true })).id);
      await beats.close();
      await assert.rejects(node.get(`${p.instance}:${BEATS_QUEUE}x:probe`), /NOPERM/);
      await assert.rejects(node.get(`${others}:probe`), /NOPERM/);
      await assert.rejects(node.rpush(`${others}:wait`, 'forged'), /NOPERM/);
      await assert.rejects(node.get(routesKey(p.instance)), /NOPERM/);
      await assert.rejects(node.keys('*'), /NOPERM/);
      await assert.rejects(node.call('CONFIG', 'GET', 'requirepass'), /NOPERM/);
      await other.connect();
      assert.equal(await other.get(`${others}:probe`), 'not yours');
      await assert.rejects(other.get(`${own}:probe`), /NOPERM/);
      // A wrong password is no way in either.
      const url = new URL(REDIS_URL);
      const guess = new IORedis({ host: url.hostname, port: Number(url.port || 6379), lazyConnect: true, enableReadyCheck: false });
      await guess.connect();
      await assert.rejects(guess.call('AUTH', state.redis.username, 'guessed'), /WRONGPASS/);
      guess.disconnect();
    } finally {
      node.disconnect();
      other.disconnect();
    }
    // A node removed loses its Redis user.
    assert.equal((await p.api('DELETE', `/nodes/${otherId}`)).status, 204);
    assert.ok(!((await admin.call('ACL', 'USERS')) as string[]).includes(joined.body.redis.username));
  });

  it('keeps no env value or generated password in clear: not in a waiting job, nor once the jobs ran', async () => {
    const revealed = (await p.api('GET', `${apps}/site/env?reveal=true`)).body as unknown;
    const password = /"REDIS_PASSWORD","value":"([^"]+)"|"REDIS_PASSWORD":"([^"]+)"/.exec(JSON.stringify(revealed));
    const generated = password?.[1] ?? password?.[2];
    assert.ok(generated && generated.length >= 8, `a generated Redis password: ${JSON.stringify(revealed)}`);

    // With the agent away, the change waits in its queue: what Redis holds of it is sealed.
    await p.stopAgent('node1');
    const patched = await p.api('PATCH', `${apps}/site/env`, { OTHER_TOKEN: waitingCanary });
    assert.equal(patched.status, 202, JSON.stringify(patched.body));
    const queued = await eventually(
      'the converge job to wait in the queue of node1',
      async () => {
        const all = await everything(admin, p.instance);
        return [...all.values()].some((v) => v.includes('app.converge')) ? all : null;
      },
      30_000,
      200,
    );
    assert.deepEqual(holding(queued, waitingCanary), [], 'the waiting job holds the new value sealed');
    assert.deepEqual(holding(queued, canary), []);
    assert.deepEqual(holding(queued, generated), []);
    assert.ok(holding(queued, SEALED_V1).length > 0, 'the waiting job carries sealed values');

    // The agent opens them: the gear runs with the values in clear.
    await p.startAgent('node1');
    await eventually(
      'the change to succeed',
      async () => {
        const op = await p.api('GET', `/operations/${patched.body.operation?.id ?? patched.body.id}`);
        if (op.body.state === 'failed') throw new Error(`the change failed: ${op.body.error}\n${p.logs()}`);
        return op.body.state === 'succeeded';
      },
      180_000,
      500,
    );
    const [web] = await p.containers({ 'gearshift.app-name': 'site', 'gearshift.cartridge': 'static' });
    const env = (await docker.getContainer(web.Id).inspect()).Config.Env;
    assert.ok(env.includes(`API_TOKEN=${canary}`) && env.includes(`OTHER_TOKEN=${waitingCanary}`), 'the gear got the values opened');

    const all = await everything(admin, p.instance);
    for (const secret of [canary, waitingCanary, generated]) assert.deepEqual(holding(all, secret), [], 'no key holds a secret in clear');
    const node1 = await nodeId(p.nodeName('node1'));
    // A node job done keeps its id (sending it again stays a duplicate) but not its payload.
    const queue = `${p.instance}:${nodeQueue(node1)}`;
    const done = await admin.zrange(`${queue}:completed`, 0, -1);
    assert.ok(done.length > 0, "the node's completed jobs are kept by id");
    await eventually(
      'every completed node job to hold an empty payload',
      async () => (await Promise.all(done.map((id) => admin.hget(`${queue}:${id}`, 'data')))).every((data) => data === '{}'),
      10_000,
      100,
    );
    assert.equal(await admin.zcard(`${p.instance}:broker:completed`), 0, 'completed broker jobs too');
  });

  it('keeps no TLS private key in clear in the route table, and the router still serves the certificate', async () => {
    const pair = selfSigned(['www.vault.test']);
    const added = await p.api('POST', `${apps}/site/aliases`, { host: 'www.vault.test', ...pair });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    const table = await eventually(
      'the alias certificate to be published',
      async () => {
        const raw = await admin.get(routesKey(p.instance));
        const t = raw ? (JSON.parse(raw) as RouteTable) : null;
        return t?.apps.some((a) => a.tls.some((x) => x.host === 'www.vault.test')) ? t : null;
      },
      30_000,
      200,
    );
    const tls = table.apps.flatMap((a) => a.tls);
    assert.ok(tls.length > 0 && tls.every((t) => t.pem.startsWith(SEALED_ROUTE_V1)), 'the certificate and key are sealed');
    const all = await everything(admin, p.instance);
    assert.deepEqual(holding(all, 'PRIVATE KEY'), [], 'no PEM private key in clear in Redis');
    assert.deepEqual(holding(all, pair.key.split('\n')[1]), []);
    const expected = new X509Certificate(pair.certificate).fingerprint256;
    const served = await eventually(
      'the router to serve the alias certificate',
      async () => ((await servedCertificate(p.routerTlsPort, 'www.vault.test')) === expected ? true : null),
      30_000,
      250,
    ).catch((err: Error) => err);
    assert.equal(served, true, `${served}\n${p.logs()}`);
  });
});
