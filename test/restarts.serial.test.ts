import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { eventually, Platform, ROOT, sleep } from './support/platform';
import { REDIS_URL } from './support/stores';

/**
 * Restarting Redis or Postgres under a running platform loses nothing that was acknowledged: an operation accepted
 * just before the restart still ends, and everything made before is still there. Runs alone (see scripts/test.sh).
 */
describe('restarts of Redis and Postgres', { timeout: 600_000 }, () => {
  let p: Platform;
  const apps = '/domains/sturdy/apps';

  before(async () => {
    p = await Platform.start('restarts');
    assert.equal((await p.api('POST', '/domains', { name: 'sturdy' })).status, 201);
    const first = await p.api('POST', `${apps}?wait=120`, { name: 'before', cartridges: ['static'] });
    assert.equal(first.body.operation.state, 'succeeded');
  });
  after(async () => {
    await p?.stop();
  });

  /** Waits for an operation through API errors: while a dependency restarts, the broker may answer 5xx. */
  const settle = (id: string) =>
    eventually(
      `operation ${id} to end`,
      async () => {
        const op = await p.api('GET', `/operations/${id}?wait=5`).catch(() => null);
        return op && ['succeeded', 'failed'].includes(op.body?.state) ? op.body : null;
      },
      180_000,
      500,
    );

  const host = (fn: string) => execFileSync('bash', ['-c', `source scripts/host.sh && ${fn}`], { cwd: ROOT, stdio: 'pipe' });

  it('finishes an operation accepted just before Redis restarts', async () => {
    const res = await p.api('POST', apps, { name: 'duringredis', cartridges: ['static'] });
    assert.equal(res.status, 202);
    const redis = new URL(REDIS_URL);
    // redis-cli takes the password from its environment (its -u misreads a URL with a password but no user name).
    execFileSync('redis-cli', ['-h', redis.hostname, '-p', redis.port || '6379', 'shutdown'], {
      env: { ...process.env, REDISCLI_AUTH: decodeURIComponent(redis.password) },
    });
    const ping = () => {
      try {
        return execFileSync('redis-cli', ['-h', redis.hostname, '-p', redis.port || '6379', 'ping'], {
          env: { ...process.env, REDISCLI_AUTH: decodeURIComponent(redis.password) },
          encoding: 'utf8',
          stdio: 'pipe',
        }).trim();
      } catch {
        return 'no answer';
      }
    };
    assert.notEqual(ping(), 'PONG', 'Redis went down');
    await sleep(1000);
    host('ensure_redis');
    const op = await settle(res.body.operation.id);
    assert.equal(op.state, 'succeeded', `${op.error}\n${p.logs()}`);
    await eventually('healthz to be ok again', async () => (await p.api('GET', '/healthz', undefined, null)).body?.status === 'ok', 60_000, 500);
  });

  it('finishes an operation accepted just before Postgres restarts, and keeps every app', async () => {
    const res = await p.api('POST', apps, { name: 'duringpg', cartridges: ['static'] });
    assert.equal(res.status, 202);
    const version = readdirSync('/etc/postgresql').sort().pop()!;
    execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart'], { stdio: 'pipe' });
    const op = await settle(res.body.operation.id);
    assert.equal(op.state, 'succeeded', `${op.error}\n${p.logs()}`);
    const list = await eventually(
      'the app list',
      async () => {
        const r = await p.api('GET', apps).catch(() => null);
        return r?.status === 200 ? r.body : null;
      },
      60_000,
      500,
    );
    assert.deepEqual(list.map((a: { name: string; status: string }) => [a.name, a.status]).sort(), [
      ['before', 'running'],
      ['duringpg', 'running'],
      ['duringredis', 'running'],
    ]);
    for (const name of ['before', 'duringpg', 'duringredis']) {
      const app = list.find((a: { name: string }) => a.name === name);
      assert.equal((await fetch(app.gears[0].endpoints.http)).status, 200, name);
    }
  });
});
