import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type AgentConfig } from './config';
import { publicKeyOf } from '@gearshift/cartridges';
import { register, redisUrlAs, waitForJoinToken } from './registration';

const ID = '11111111-2222-4333-8444-555555555555';

/** A broker's registration endpoint that answers with `answer` and records what it was sent. */
async function fakeBroker(answer: (body: Record<string, unknown>) => { status: number; body: unknown }) {
  const seen: Record<string, unknown>[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as Record<string, unknown>;
      seen.push(body);
      const a = answer(body);
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

function setup(brokerUrl: string, joinToken?: string): { config: AgentConfig; file: string; done: () => void } {
  const dataDir = mkdtempSync(join(tmpdir(), 'registration-'));
  const config = { ...loadConfig({ GEARSHIFT_DATA_DIR: dataDir, GEARSHIFT_NODE_NAME: 'n1', GEARSHIFT_INSTANCE: 'gst' }), brokerUrl, joinToken };
  return { config, file: join(dataDir, 'agents', 'gst-n1.json'), done: () => rmSync(dataDir, { recursive: true, force: true }) };
}

const quiet = () => undefined;

describe('node registration', () => {
  it('joins with the token and keeps the id, key, private key and Redis user, readable by its owner only', async () => {
    const redis = { username: 'gst-node-1', password: 'pw' };
    const broker = await fakeBroker(() => ({ status: 200, body: { id: ID, key: 'gsn_k', redis } }));
    const { config, file, done } = setup(broker.url, 'gsj_t');
    try {
      const identity = await register(config, quiet);
      assert.equal(identity.nodeId, ID);
      const saved = JSON.parse(readFileSync(file, 'utf8'));
      assert.deepEqual({ ...saved, privateKey: undefined }, { nodeId: ID, name: 'n1', key: 'gsn_k', redis, privateKey: undefined });
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(broker.seen[0].token, 'gsj_t');
      // The broker is given the public half of the key pair whose private half the agent keeps.
      assert.equal(broker.seen[0].publicKey, publicKeyOf(saved.privateKey));
      assert.deepEqual(identity.redis, redis);
      assert.equal(redisUrlAs('redis://:host-pw@127.0.0.1:6379/0', redis), 'redis://gst-node-1:pw@127.0.0.1:6379/0');
      // Comes back with the same key pair, and tells the broker its public key again.
      await register(config, quiet);
      assert.equal(broker.seen[1].publicKey, broker.seen[0].publicKey);
      assert.equal(broker.seen[1].nodeId, ID);
    } finally {
      done();
      await broker.close();
    }
  });

  it('comes back with its id and key, and stops on a refusal with the reason', async () => {
    let status = 200;
    const broker = await fakeBroker(() => (status === 200 ? { status, body: { id: ID } } : { status, body: { message: 'the key of node n1 does not match' } }));
    const { config, file, done } = setup(broker.url);
    try {
      mkdirSync(join(config.dataDir, 'agents'));
      writeFileSync(file, JSON.stringify({ nodeId: ID, name: 'n1', key: 'gsn_k' }));
      assert.equal((await register(config, quiet)).nodeId, ID);
      assert.deepEqual({ nodeId: broker.seen[0].nodeId, key: broker.seen[0].key }, { nodeId: ID, key: 'gsn_k' });
      status = 401;
      await assert.rejects(register(config, quiet), /refused to register this node: the key of node n1 does not match/);
    } finally {
      done();
      await broker.close();
    }
  });

  it('saved by an earlier version (no key): registers without one and keeps the key it is given', async () => {
    const broker = await fakeBroker(() => ({ status: 200, body: { id: ID, key: 'gsn_new' } }));
    const { config, file, done } = setup(broker.url);
    try {
      mkdirSync(join(config.dataDir, 'agents'));
      writeFileSync(file, JSON.stringify({ nodeId: ID, name: 'n1' }), { mode: 0o644 });
      await register(config, quiet);
      assert.equal(broker.seen[0].key, undefined);
      assert.equal(JSON.parse(readFileSync(file, 'utf8')).key, 'gsn_new');
      assert.equal(statSync(file).mode & 0o777, 0o600);
    } finally {
      done();
      await broker.close();
    }
  });

  it('serves under its saved id while the broker is away, and confirms once it answers', async () => {
    const { config, file, done } = setup('http://127.0.0.1:1');
    try {
      mkdirSync(join(config.dataDir, 'agents'));
      writeFileSync(file, JSON.stringify({ nodeId: ID, name: 'n1', key: 'gsn_k' }));
      const broker = await fakeBroker(() => ({ status: 401, body: { message: 'no node n1 is registered' } }));
      const identity = await register(config, quiet);
      assert.equal(identity.nodeId, ID);
      config.brokerUrl = broker.url;
      await assert.rejects(identity.confirmed, /no node n1 is registered/);
      await broker.close();
    } finally {
      done();
    }
  });

  it('on a first start waits for the join token its host writes, saying so once, and stops with the reason when none comes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gearshift-join-'));
    const file = join(dir, 'join-token');
    const said: string[] = [];
    try {
      const waiting = waitForJoinToken(file, (m) => said.push(m), 5000, 20);
      await new Promise((r) => setTimeout(r, 100));
      writeFileSync(file, 'gsj_written-later\n');
      assert.equal(await waiting, 'gsj_written-later');
      assert.equal(said.length, 2, said.join('\n'));
      assert.match(said[0], /has not joined yet: waiting for the join token .* writes to .*join-token/);
      rmSync(file);
      await assert.rejects(
        waitForJoinToken(file, () => undefined, 50, 10),
        /set GEARSHIFT_JOIN_TOKEN/,
      );
      await assert.rejects(
        waitForJoinToken(undefined, () => undefined),
        /set GEARSHIFT_JOIN_TOKEN/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
