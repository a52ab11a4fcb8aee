import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { hashFolder } from '@gearshift/cartridges';
import { docker, execIn, Platform, psqlIn, ROOT } from './support/platform';

/** Snapshots round-trip real rows and keys through each database, into the same app and into a new one. */
describe('snapshots', { timeout: 600_000 }, () => {
  let p: Platform;
  const apps = '/domains/data/apps';

  const envOf = async (app: string, cartridge: string) => {
    const [c] = await p.containers({ 'gearshift.app-name': app, 'gearshift.cartridge': cartridge });
    const info = await docker.getContainer(c.Id).inspect();
    return { id: c.Id, env: Object.fromEntries(info.Config.Env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])) };
  };
  const redis = async (app: string, ...args: string[]) => {
    const { id, env } = await envOf(app, 'redis-7');
    return execIn(id, ['redis-cli', '-a', env.REDIS_PASSWORD, '--no-auth-warning', ...args]);
  };
  const mysql = async (app: string, sql: string) => {
    const { id, env } = await envOf(app, 'mariadb-10.11');
    return execIn(id, ['mysql', '-N', `-u${env.MYSQL_USER}`, `-p${env.MYSQL_PASSWORD}`, env.MYSQL_DATABASE, '-e', sql]);
  };
  const snapshot = async (app: string) => {
    const res = await fetch(`${p.baseUrl}/api/v1${apps}/${app}/snapshots`, { method: 'POST', headers: { authorization: `Bearer ${p.token}` } });
    assert.equal(res.status, 200, await res.clone().text());
    assert.match(res.headers.get('content-disposition') ?? '', new RegExp(`attachment; filename="${app}-data-.*\\.tar\\.gz"`));
    return Buffer.from(await res.arrayBuffer());
  };
  const restore = async (app: string, archive: Buffer) => {
    const res = await fetch(`${p.baseUrl}/api/v1${apps}/${app}/snapshots/restore?wait=120`, {
      method: 'POST',
      headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/gzip' },
      body: archive,
    });
    const body = (await res.json()) as { operation: { state: string; error: string | null }; restores: string[]; message?: string };
    return { status: res.status, body };
  };
  const listing = (archive: Buffer) => {
    const dir = mkdtempSync(join(tmpdir(), 'snap-'));
    try {
      writeFileSync(join(dir, 's.tgz'), archive);
      return execFileSync('tar', ['-tzf', join(dir, 's.tgz')], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean)
        .sort();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const create = async (name: string, cartridges: unknown[]) => {
    const res = await p.api('POST', `${apps}?wait=180`, { name, cartridges });
    assert.equal(res.body.operation?.state, 'succeeded', JSON.stringify(res.body));
  };

  before(async () => {
    p = await Platform.start('snapshots');
    assert.equal((await p.api('POST', '/domains', { name: 'data' })).status, 201);
    await create('shop', ['static', 'postgresql-15', 'redis-7']);
  });
  after(async () => {
    await p?.stop();
  });

  it('takes PostgreSQL rows and Redis keys out, and puts them back into the same app', async () => {
    await psqlIn(p, 'shop', "create table orders (id int primary key, item text); insert into orders values (1, 'tea'), (2, 'cake')");
    assert.equal(await redis('shop', 'SET', 'visits', '42'), 'OK');
    await redis('shop', 'SET', 'session', 'x', 'EX', '3600');
    const archive = await snapshot('shop');
    assert.deepEqual(listing(archive), [
      './',
      './gearshift-snapshot.json',
      './postgresql-15/',
      './postgresql-15/dump.sql',
      './redis-7/',
      './redis-7/keys.jsonl',
    ]);

    await psqlIn(p, 'shop', "delete from orders; insert into orders values (3, 'lost')");
    await redis('shop', 'FLUSHALL');
    const r = await restore('shop', archive);
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(r.body.operation.state, 'succeeded', r.body.operation.error ?? '');
    assert.deepEqual(r.body.restores.sort(), ['postgresql-15', 'redis-7']);
    assert.equal(await psqlIn(p, 'shop', "select string_agg(item, ',' order by id) from orders"), 'tea,cake');
    assert.equal(await redis('shop', 'GET', 'visits'), '42');
    assert.ok(Number(await redis('shop', 'TTL', 'session')) > 3000, 'a key keeps its time to live');
  });

  it('restores into a new app with the same cartridges (other credentials, other owner)', async () => {
    const archive = await snapshot('shop');
    await create('copy', ['static', 'postgresql-15', 'redis-7']);
    const r = await restore('copy', archive);
    assert.equal(r.body.operation.state, 'succeeded', r.body.operation.error ?? '');
    assert.equal(await psqlIn(p, 'copy', 'select count(*) from orders'), '2');
    assert.equal(await redis('copy', 'GET', 'visits'), '42');
  });

  it('round-trips MariaDB rows, and the files of a volume', async () => {
    const image = `gearshift/nodejs-18:${hashFolder(join(ROOT, 'cartridges/nodejs-18'))}`;
    await create('maria', [{ name: 'docker-image', image, port: 8080, health: '/health', volumes: [{ name: 'home', path: '/home/gear' }] }, 'mariadb-10.11']);
    await mysql('maria', "create table notes (id int primary key, body text); insert into notes values (1, 'hello'), (2, 'world')");
    const [web] = await p.containers({ 'gearshift.app-name': 'maria', 'gearshift.cartridge': 'docker-image' });
    await execIn(web.Id, ['sh', '-c', 'mkdir -p /home/gear/uploads && echo picture > /home/gear/uploads/cat.txt']);
    const archive = await snapshot('maria');
    assert.ok(listing(archive).includes('./mariadb-10.11/dump.sql'));
    assert.ok(listing(archive).includes('./docker-image/volumes/home.tar.gz'));
    await mysql('maria', 'delete from notes');
    await execIn(web.Id, ['rm', '-rf', '/home/gear/uploads']);
    const r = await restore('maria', archive);
    assert.equal(r.body.operation.state, 'succeeded', r.body.operation.error ?? '');
    assert.equal(await mysql('maria', 'select group_concat(body order by id) from notes'), 'hello,world');
    assert.equal(await execIn(web.Id, ['cat', '/home/gear/uploads/cat.txt']), 'picture');
  });

  it('refuses what is not a snapshot of these cartridges, and an app without data', async () => {
    const other = await snapshot('maria');
    const wrong = await restore('shop', other);
    assert.equal(wrong.status, 422);
    assert.match(wrong.body.message ?? '', /holds data of (docker-image, mariadb-10\.11|mariadb-10\.11, docker-image), which app "shop" does not have/);
    const notSnapshot = await restore('shop', gzipSync(Buffer.from('hello')));
    assert.equal(notSnapshot.status, 422);
    await create('bare', ['static']);
    const none = await fetch(`${p.baseUrl}/api/v1${apps}/bare/snapshots`, { method: 'POST', headers: { authorization: `Bearer ${p.token}` } });
    assert.equal(none.status, 422);
    assert.match(((await none.json()) as { message: string }).message, /no data to snapshot/);
  });
});
