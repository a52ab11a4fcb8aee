import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { JOB_CONTRACT_VERSION } from '@gearshift/cartridges';
import { eventually, Platform, ROOT } from './support/platform';
import { NODE_FLAGS } from './support/processes';
import { REDIS_URL } from './support/stores';

/**
 * Nodes join once, with an identity of their own: join tokens are single-use unless counted, listed without their
 * value and revocable; a node is given a key at join; a name belongs to the node registered under it; a restarted
 * agent comes back with its key, and one saved by an earlier version (an id, no key) is given one.
 */
describe('nodes join once, with a key of their own', { timeout: 600_000 }, () => {
  let p: Platform;
  const apps = '/domains/joins/apps';
  const spec = { memoryMb: 1024, maxGears: 10, contractVersion: JOB_CONTRACT_VERSION };
  const register = (body: Record<string, unknown>) => p.api('POST', '/nodes/register', { ...spec, ...body }, null);
  const newToken = async (body: Record<string, unknown> = {}) => {
    const res = await p.api('POST', '/nodes/tokens', body);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as { id: string; token: string; uses: number; expiresAt: string };
  };
  const nodeNamed = async (name: string) => ((await p.api('GET', '/nodes')).body as { id: string; name: string }[]).find((n) => n.name === name);
  const stateFile = () => join(p.dataDir, 'agents', `${p.instance}-${p.nodeName('node1')}.json`);

  before(async () => {
    p = await Platform.start('nodes-join');
    assert.equal((await p.api('POST', '/domains', { name: 'joins' })).status, 201);
  });
  after(async () => {
    await p?.stop();
  });

  it('admits one node per token unless told more, and refuses a used-up token with 401', async () => {
    const once = await newToken();
    assert.equal(once.uses, 1);
    const first = await register({ token: once.token, name: 'spare-a' });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.match(first.body.key, /^gsn_/, 'the node is given its key');
    const second = await register({ token: once.token, name: 'spare-b' });
    assert.equal(second.status, 401, JSON.stringify(second.body));
    assert.equal(second.body.code, 'unauthorized');
    assert.match(second.body.message, /used up/);
    assert.equal(await nodeNamed('spare-b'), undefined);

    const twice = await newToken({ uses: 2, ttlHours: 2 });
    assert.equal((await register({ token: twice.token, name: 'spare-c' })).status, 200);
    assert.equal((await register({ token: twice.token, name: 'spare-d' })).status, 200);
    const third = await register({ token: twice.token, name: 'spare-e' });
    assert.equal(third.status, 401, JSON.stringify(third.body));

    for (const name of ['spare-a', 'spare-c', 'spare-d']) assert.equal((await p.api('DELETE', `/nodes/${name}`)).status, 204);
  });

  it('lists tokens without their value, and a revoked token gets 401', async () => {
    const made = await newToken({ uses: 3 });
    const listed = await p.api('GET', '/nodes/tokens');
    assert.equal(listed.status, 200);
    const row = (listed.body as { id: string; usesLeft: number | null; expiresAt: string }[]).find((t) => t.id === made.id);
    assert.deepEqual({ usesLeft: row?.usesLeft, expiresAt: row?.expiresAt }, { usesLeft: 3, expiresAt: made.expiresAt });
    assert.ok(!JSON.stringify(listed.body).includes(made.token), 'the token itself is never listed');
    assert.ok(!JSON.stringify(listed.body).includes('tokenHash'), 'nor its hash');

    assert.equal((await p.api('DELETE', `/nodes/tokens/${made.id}`)).status, 204);
    assert.equal((await p.api('DELETE', `/nodes/tokens/${made.id}`)).status, 404);
    assert.equal((await p.api('DELETE', '/nodes/tokens/not-an-id')).status, 404);
    const revoked = await register({ token: made.token, name: 'spare-f' });
    assert.equal(revoked.status, 401, JSON.stringify(revoked.body));
    assert.match(revoked.body.message, /unknown or was revoked/);
    assert.ok(!((await p.api('GET', '/nodes/tokens')).body as { id: string }[]).some((t) => t.id === made.id));
    assert.equal((await p.api('GET', '/nodes/tokens', undefined, null)).status, 401);
  });

  it("refuses a second registration under an existing node's name with 409; the node keeps its queue", async () => {
    const before = await nodeNamed(p.nodeName('node1'));
    assert.ok(before);
    const fresh = await newToken();
    const taken = await register({ token: fresh.token, name: p.nodeName('node1') });
    assert.equal(taken.status, 409, JSON.stringify(taken.body));
    assert.match(taken.body.message, new RegExp(`the name ${p.nodeName('node1')} is taken by a registered node`));
    assert.equal(taken.body.details[0].pointer, '/name');
    // A refused registration does not spend the token.
    assert.equal(((await p.api('GET', '/nodes/tokens')).body as { id: string; usesLeft: number }[]).find((t) => t.id === fresh.id)?.usesLeft, 1);
    // Nor does the id and a wrong key, nor no key, let anyone in.
    assert.equal((await register({ nodeId: before.id, key: 'gsn_guessed', name: p.nodeName('node1') })).status, 401);
    assert.equal((await register({ nodeId: before.id, name: p.nodeName('node1') })).status, 401);

    // A whole agent, on another host (its own data directory), under that name: it stops, with the broker's reason.
    const elsewhere = mkdtempSync(join(tmpdir(), 'gearshift-intruder-'));
    try {
      const child = spawn(process.execPath, [...NODE_FLAGS, join(ROOT, 'dist/apps/node-agent/src/main.js')], {
        env: {
          ...process.env,
          REDIS_URL,
          GEARSHIFT_INSTANCE: p.instance,
          GEARSHIFT_DATA_DIR: elsewhere,
          GEARSHIFT_BROKER_URL: p.baseUrl,
          GEARSHIFT_NODE_NAME: p.nodeName('node1'),
          GEARSHIFT_JOIN_TOKEN: fresh.token,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      assert.equal(code, 2, output);
      assert.match(output, /taken by a registered node/);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }

    const afterwards = await nodeNamed(p.nodeName('node1'));
    assert.equal(afterwards?.id, before.id, 'the node keeps its id, and so its queue');
    const app = await p.api('POST', `${apps}?wait=120`, { name: 'kept', cartridges: ['static'] });
    assert.equal(app.body.operation?.state, 'succeeded', `${JSON.stringify(app.body)}\n${p.logs()}`);
    assert.equal(app.body.gears[0].node, p.nodeName('node1'));
  });

  it('keeps the key beside the node id (mode 0600), and a restarted agent comes back with it and keeps serving', async () => {
    const saved = JSON.parse(readFileSync(stateFile(), 'utf8')) as { nodeId: string; key: string };
    assert.match(saved.key, /^gsn_/);
    assert.equal(statSync(stateFile()).mode & 0o777, 0o600);
    const id = (await nodeNamed(p.nodeName('node1')))!.id;
    assert.equal(saved.nodeId, id);

    await p.stopAgent('node1', 'SIGKILL');
    // No join token this time: the host's own token file is taken away, and the agent needs none.
    rmSync(join(p.dataDir, 'join-token'));
    await p.startAgent('node1');
    // The node still looks ready from the heartbeats of the agent that was killed: wait for the new one's word.
    await eventually('the restarted agent to be ready', async () => p.agents.get('node1')!.output.some((l) => / ready: /.test(l)), 60_000);
    assert.equal((await nodeNamed(p.nodeName('node1')))!.id, id);
    assert.equal(JSON.parse(readFileSync(stateFile(), 'utf8')).key, saved.key, 'the key is kept, not replaced');
    const restarted = await p.api('POST', `${apps}/kept/actions?wait=120`, { action: 'restart' });
    assert.equal(restarted.body.operation?.state, 'succeeded', `${JSON.stringify(restarted.body)}\n${p.logs()}`);
    const app = await p.api('GET', `${apps}/kept`);
    assert.equal((await fetch(app.body.gears[0].endpoints.http)).status, 200);
  });

  it('gives a key, once, to an agent saved by an earlier version (a node id, no key) of a node registered before keys', async () => {
    const id = (await nodeNamed(p.nodeName('node1')))!.id;
    await p.stopAgent('node1', 'SIGKILL');
    // As the migration leaves a node registered before keys, and an agent of that version leaves its state file.
    const pg = new Client({ connectionString: p.databaseUrl });
    await pg.connect();
    try {
      await pg.query('update nodes set key_hash = null, legacy = true where id = $1', [id]);
    } finally {
      await pg.end();
    }
    writeFileSync(stateFile(), JSON.stringify({ nodeId: id, name: p.nodeName('node1') }), { mode: 0o600 });

    await p.startAgent('node1');
    await eventually('the restarted agent to be ready', async () => p.agents.get('node1')!.output.some((l) => / ready: /.test(l)), 60_000);
    const upgraded = JSON.parse(readFileSync(stateFile(), 'utf8')) as { nodeId: string; key?: string };
    assert.equal(upgraded.nodeId, id);
    assert.match(upgraded.key ?? '', /^gsn_/, 'the agent keeps the key it was given');
    assert.equal(statSync(stateFile()).mode & 0o777, 0o600);
    // Only once: without the key, the node is now refused.
    const keyless = await register({ nodeId: id, name: p.nodeName('node1') });
    assert.equal(keyless.status, 401, JSON.stringify(keyless.body));
    const withKey = await register({ nodeId: id, key: upgraded.key, name: p.nodeName('node1') });
    assert.equal(withKey.status, 200, JSON.stringify(withKey.body));
    assert.equal(withKey.body.key, undefined, 'a key is shown once, when it is made');

    await eventually(
      'the upgraded node to serve a change',
      async () => (await p.api('POST', `${apps}/kept/actions?wait=60`, { action: 'restart' })).body.operation?.state === 'succeeded',
      120_000,
      1000,
    );
  });
});
