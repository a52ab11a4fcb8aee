import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { docker, eventually, execIn, getJson, gitPush, Platform, runCli } from './support/platform';

interface CatalogEntry {
  name: string;
  version: string;
  status: string;
  endOfLife: string | null;
  base: string;
  defaultFor: string | null;
}

/**
 * Current runtimes beside the old ones: the cartridges built on Debian 13 come up healthy and are the versions the
 * catalogue says; a bare family name gives the newest current cartridge; a deprecated one still makes an app, with a
 * warning; PostgreSQL 17 and Valkey 8 keep their data through a snapshot.
 */
describe('runtimes side by side', { timeout: 900_000 }, () => {
  let p: Platform;
  let home: string;
  let repo: string;
  const apps = '/domains/rt/apps';

  before(async () => {
    p = await Platform.start('runtimes');
    home = mkdtempSync(join(tmpdir(), 'gearshift-runtimes-cli-'));
    assert.equal((await p.api('POST', '/domains', { name: 'rt' })).status, 201);
  });
  after(async () => {
    await p?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
    if (repo) rmSync(repo, { recursive: true, force: true });
  });

  async function create(name: string, cartridges: string[]) {
    const res = await p.api('POST', `${apps}?wait=600`, { name, cartridges });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.operation.state, 'succeeded', `${res.body.operation.error}\n${p.logs()}`);
    const web = res.body.gears.find((g: { ports: { http?: number } }) => g.ports.http);
    return { body: res.body, url: web?.endpoints.http as string };
  }
  async function container(app: string, cartridge: string) {
    const [c] = await p.containers({ 'gearshift.app-name': app, 'gearshift.cartridge': cartridge });
    assert.ok(c, `a ${cartridge} gear of ${app}`);
    const info = await docker.getContainer(c.Id).inspect();
    const env = Object.fromEntries(info.Config.Env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
    return { id: c.Id, env };
  }
  const psql = async (app: string, sql: string) => {
    const { id, env } = await container(app, 'postgresql-17');
    return execIn(id, ['psql', '-qAt', '-h', '/run/postgresql', '-U', env.POSTGRESQL_USER, '-d', env.POSTGRESQL_DATABASE, '-c', sql]);
  };
  const valkey = async (app: string, ...args: string[]) => {
    const { id, env } = await container(app, 'valkey-8');
    return execIn(id, ['valkey-cli', '-a', env.REDIS_PASSWORD, '--no-auth-warning', ...args]);
  };

  it('lists each cartridge with its version, status, end of life and base', async () => {
    const list: CatalogEntry[] = (await p.api('GET', '/cartridges')).body;
    const of = (name: string) => list.find((c) => c.name === name)!;
    assert.deepEqual(
      ['nodejs-18', 'ruby-3.1', 'php-8.2'].map((n) => [n, of(n).status, of(n).endOfLife]),
      [
        ['nodejs-18', 'deprecated', '2025-04-30'],
        ['ruby-3.1', 'deprecated', '2025-03-31'],
        ['php-8.2', 'deprecated', '2026-12-31'],
      ],
    );
    for (const n of ['nodejs-22', 'nodejs-24', 'python-3.13', 'postgresql-17', 'valkey-8']) {
      assert.equal(of(n).status, 'current', n);
      assert.equal(of(n).base, 'trixie', n);
    }
    assert.equal(of('nodejs-18').base, 'bookworm');
    assert.equal(of('nodejs-24').defaultFor, 'nodejs');
    assert.equal(of('nodejs-22').defaultFor, null);
    assert.equal(of('postgresql-17').defaultFor, 'postgresql');

    assert.equal((await runCli(p, home, ['login', '--password-stdin'], `${p.adminPassword}\n`)).code, 0);
    const r = await runCli(p, home, ['cartridges']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^nodejs-18\s+web\s+18\s+deprecated\s+2025-04-30\s+Node\.js 18$/m);
    assert.match(r.stdout, new RegExp(`^nodejs-24\\s+web\\s+${of('nodejs-24').version.replace(/\./g, '\\.')}\\s+current \\(default for nodejs\\)\\s+`, 'm'));
  });

  it('gives bare family names the newest current cartridges: Node.js 24 with PostgreSQL 17 and Valkey 8', async () => {
    const { body, url } = await create('node24', ['nodejs', 'postgresql', 'valkey']);
    assert.deepEqual(body.cartridges, ['nodejs-24', 'postgresql-17', 'valkey-8']);
    assert.equal(body.warnings, undefined);
    const version = (await p.api('GET', '/cartridges/nodejs-24')).body.manifest.version;
    const page = await getJson(url);
    assert.equal(page?.body.node, `v${version}`);
    assert.match(page?.body.database.version, /^PostgreSQL 17\./, JSON.stringify(page?.body.database));
    const test = await getJson(`${url}/selftest`);
    assert.equal(test?.body.postgresql?.read, test?.body.postgresql?.wrote, JSON.stringify(test?.body));
    assert.equal(test?.body.redis?.read, test?.body.redis?.wrote, JSON.stringify(test?.body));
    const web = await container('node24', 'nodejs-24');
    assert.match(await execIn(web.id, ['node', '-v']), /^v24\./);
    assert.match(await execIn(web.id, ['npm', '-v']), /^\d+\.\d+\.\d+$/);
    // Valkey publishes what the redis cartridge does, and refuses a client without the password.
    for (const name of ['REDIS_URL', 'REDIS_HOST', 'REDIS_PORT', 'REDIS_PASSWORD']) assert.ok(web.env[name], name);
    const db = await container('node24', 'valkey-8');
    assert.match(await execIn(db.id, ['valkey-cli', 'ping']), /NOAUTH/);
    assert.match(await execIn(db.id, ['valkey-server', '--version']), /v=8\./);
  });

  it('pins Node.js 22 by its full name', async () => {
    await create('node22', ['nodejs-22']);
    const web = await container('node22', 'nodejs-22');
    assert.match(await execIn(web.id, ['node', '-v']), /^v22\./);
  });

  it('runs Python 3.13, wired to PostgreSQL 17 and Valkey 8', async () => {
    const { body, url } = await create('py313', ['python', 'postgresql-17', 'valkey-8']);
    assert.ok(body.cartridges.includes('python-3.13'), JSON.stringify(body.cartridges));
    const page = await getJson(url);
    assert.match(page?.body.python, /^3\.13\./);
    assert.equal(page?.body.database.reachable, true, JSON.stringify(page?.body.database));
    const test = await getJson(`${url}/selftest`);
    assert.equal(test?.body.postgresql?.read, test?.body.postgresql?.wrote, JSON.stringify(test?.body));
    assert.equal(test?.body.redis?.read, test?.body.redis?.wrote, JSON.stringify(test?.body));
    const web = await container('py313', 'python-3.13');
    assert.match(await execIn(web.id, ['python3', '--version']), /^Python 3\.13\./);
    assert.match(await psql('py313', 'show server_version'), /^17\./);
    // TLS with the certificate the platform issued, as PostgreSQL 15 offers it.
    const db = await container('py313', 'postgresql-17');
    const conninfo = `host=127.0.0.1 user=${db.env.POSTGRESQL_USER} dbname=${db.env.POSTGRESQL_DATABASE} sslmode=require`;
    const ssl = ['psql', '-qAt', conninfo, '-c', 'select ssl from pg_stat_ssl where pid = pg_backend_pid()'];
    assert.equal(await execIn(db.id, ['env', `PGPASSWORD=${db.env.POSTGRESQL_PASSWORD}`, ...ssl]), 't');
  });

  it('runs PHP 8.4 under Apache, wired to MariaDB 11.8 and Valkey 8', async () => {
    const { body, url } = await create('php84', ['php', 'mariadb', 'valkey-8']);
    assert.deepEqual(body.cartridges, ['mariadb-11.8', 'php-8.4', 'valkey-8']);
    const page = await getJson(url);
    assert.match(page?.body.server, /^Apache/);
    assert.match(page?.body.php, /^8\.4\./);
    assert.equal(page?.body.database.reachable, true, JSON.stringify(page?.body.database));
    const test = await getJson(`${url}/selftest`);
    assert.equal(test?.body.mysql?.read, test?.body.mysql?.wrote, JSON.stringify(test?.body));
    assert.equal(test?.body.redis?.read, test?.body.redis?.wrote, JSON.stringify(test?.body));
  });

  it('runs Ruby 3.3 on Puma with MariaDB 11.8, and takes its rows out in a snapshot and back', async () => {
    const { body, url } = await create('ruby33', ['ruby', 'mariadb-11.8']);
    assert.deepEqual(body.cartridges, ['mariadb-11.8', 'ruby-3.3']);
    const page = await getJson(url);
    assert.match(page?.body.ruby, /^3\.3\./);
    const test = await getJson(`${url}/selftest`);
    assert.equal(test?.body.mysql?.read, test?.body.mysql?.wrote, JSON.stringify(test?.body));
    const { id, env } = await container('ruby33', 'mariadb-11.8');
    const sql = (q: string) => execIn(id, ['mariadb', '-N', `-u${env.MYSQL_USER}`, `-p${env.MYSQL_PASSWORD}`, env.MYSQL_DATABASE, '-e', q]);
    assert.match(await sql('select version()'), /^11\.8\./);
    await sql("create table notes (id int primary key, body text); insert into notes values (1, 'hello'), (2, 'world')");
    const taken = await fetch(`${p.baseUrl}/api/v1${apps}/ruby33/snapshots`, { method: 'POST', headers: { authorization: `Bearer ${p.token}` } });
    assert.equal(taken.status, 200, await taken.clone().text());
    const archive = Buffer.from(await taken.arrayBuffer());
    await sql('delete from notes');
    const res = await fetch(`${p.baseUrl}/api/v1${apps}/ruby33/snapshots/restore?wait=120`, {
      method: 'POST',
      headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/gzip' },
      body: archive,
    });
    const restored = (await res.json()) as { operation: { state: string; error: string | null } };
    assert.equal(restored.operation.state, 'succeeded', restored.operation.error ?? '');
    assert.equal(await sql('select group_concat(body order by id) from notes'), 'hello,world');
  });

  it('runs Java 21, wired to PostgreSQL 17', async () => {
    const { body, url } = await create('java21', ['openjdk', 'postgresql-17']);
    assert.deepEqual(body.cartridges, ['openjdk-21', 'postgresql-17']);
    // The JVM's first database connection can outlast one request's timeout on a busy host.
    const page = await eventually('the Java starter to answer', () => getJson(url), 60_000, 500);
    assert.match(page?.body.java, /^21/);
    assert.equal(page?.body.database.reachable, true, JSON.stringify(page?.body.database));
  });

  it('still creates an app on a deprecated cartridge, and the answer warns', async () => {
    const { body } = await create('legacy', ['nodejs-18']);
    assert.deepEqual(body.cartridges, ['nodejs-18']);
    assert.deepEqual(body.warnings, ['nodejs-18 is deprecated (Node.js 18, end of life 2025-04-30); nodejs-24 is current']);
    const unknown = await p.api('POST', apps, { name: 'nope', cartridges: ['cobol'] });
    assert.equal(unknown.status, 400, JSON.stringify(unknown.body));
    assert.equal(unknown.body.details[0].pointer, '/cartridges/0');
  });

  it('takes PostgreSQL 17 rows and Valkey keys out in a snapshot and puts them back', async () => {
    await psql('node24', "create table orders (id int primary key, item text); insert into orders values (1, 'tea'), (2, 'cake')");
    assert.equal(await valkey('node24', 'SET', 'visits', '42'), 'OK');
    const taken = await fetch(`${p.baseUrl}/api/v1${apps}/node24/snapshots`, { method: 'POST', headers: { authorization: `Bearer ${p.token}` } });
    assert.equal(taken.status, 200, await taken.clone().text());
    const archive = Buffer.from(await taken.arrayBuffer());
    await psql('node24', "delete from orders; insert into orders values (3, 'lost')");
    await valkey('node24', 'FLUSHALL');
    const res = await fetch(`${p.baseUrl}/api/v1${apps}/node24/snapshots/restore?wait=120`, {
      method: 'POST',
      headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/gzip' },
      body: archive,
    });
    const body = (await res.json()) as { operation: { state: string; error: string | null }; restores: string[] };
    assert.equal(body.operation.state, 'succeeded', body.operation.error ?? '');
    assert.deepEqual(body.restores.sort(), ['postgresql-17', 'valkey-8']);
    assert.equal(await psql('node24', "select string_agg(item, ',' order by id) from orders"), 'tea,cake');
    assert.equal(await valkey('node24', 'GET', 'visits'), '42');
  });

  it('moves a Node.js app from nodejs-18 to nodejs-24 when its gearshift.yml says so, in a normal deployment', async () => {
    assert.equal((await p.api('POST', `${apps}?wait=300`, { name: 'moving', cartridges: ['nodejs-18'] })).body.operation.state, 'succeeded');
    repo = mkdtempSync(join(tmpdir(), 'gearshift-moving-'));
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', repo, '-c', 'user.name=dev', '-c', 'user.email=dev@example.com', ...args], { encoding: 'utf8' });
    const push = () => gitPush(repo, `http://rt:${p.token}@127.0.0.1:${p.port}/git/rt/moving.git`);
    const release = (cartridges: string, message: string) => {
      writeFileSync(join(repo, 'gearshift.yml'), `name: moving\ncartridges: [${cartridges}]\n`);
      git('add', '-A');
      git('commit', '-qm', message);
    };
    const served = async () => {
      const app = (await p.api('GET', `${apps}/moving`)).body;
      const web = app.gears.find((g: { ports: { http?: number } }) => g.ports.http);
      return { app, page: await getJson(web.endpoints.http) };
    };
    git('init', '-q', '-b', 'main');
    writeFileSync(join(repo, 'package.json'), JSON.stringify({ name: 'moving', version: '1.0.0', main: 'server.js' }));
    writeFileSync(
      join(repo, 'server.js'),
      "require('http').createServer((req, res) => res.end(JSON.stringify({ node: process.version }))).listen(Number(process.env.PORT || 8080));\n",
    );
    release('nodejs-18', 'on Node.js 18');
    const first = await push();
    assert.ok(first.ok, first.output);
    assert.match((await served()).page?.body.node, /^v18\./);

    release('nodejs-24', 'on Node.js 24');
    const second = await push();
    assert.ok(second.ok, second.output);
    assert.match(second.output, /change web cartridge/);
    assert.match(second.output, /release 2 is active/);
    const { app, page } = await served();
    assert.match(page?.body.node, /^v24\./);
    assert.deepEqual(app.cartridges, ['nodejs-24']);
    assert.equal(app.release, 2);
    assert.deepEqual(
      app.gears.map((g: { cartridge: string }) => g.cartridge),
      ['nodejs-24'],
    );
    // A different runtime is still another app.
    const refused = await fetch(`${p.baseUrl}/api/v1/domains/rt/apply?dryRun=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${p.token}`, 'content-type': 'text/yaml' },
      body: 'name: moving\ncartridges: [python-3.13]\n',
    });
    const body = (await refused.json()) as { details: { rule: string }[] };
    assert.equal(refused.status, 422, JSON.stringify(body));
    assert.equal(body.details[0].rule, 'web-cartridge');
  });
});
