import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { CertificateAuthority } from '../apps/broker/src/common/certificates';
import { docker, eventually, execIn, gitPush, Platform, psqlIn, runCli } from './support/platform';

/**
 * Databases as apps expect them: code written for other platforms connects with what it finds in its environment
 * (libpq's PG* variables, DATABASE_URL), over TLS when it asks for it and in plain when it does not, and the app's
 * owner can read the generated credentials while listings mask them.
 */

/** An app in the shape of the usual getting-started samples: it configures nothing about its database. */
const APP = `
const http = require('http');
const pg = require('pg');
// No arguments: node-postgres reads PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE.
const pool = new pg.Pool();
async function once(ssl) {
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL, ssl });
  await client.connect();
  try {
    const tls = (await client.query('select ssl from pg_stat_ssl where pid = pg_backend_pid()')).rows[0].ssl;
    const fact = (await client.query('select text from facts limit 1')).rows[0].text;
    return { tls, fact };
  } finally {
    await client.end();
  }
}
http.createServer(async (req, res) => {
  if (req.url === '/health') return res.end('ok');
  try {
    let body;
    if (req.url === '/pool') body = { fact: (await pool.query('select text from facts limit 1')).rows[0].text };
    // As Heroku's documentation teaches: TLS, without checking the certificate.
    else if (req.url === '/tls') body = await once({ rejectUnauthorized: false });
    else if (req.url === '/plain') body = await once(false);
    else { res.statusCode = 404; return res.end('no such page'); }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body));
  } catch (err) {
    res.statusCode = 500;
    res.end(String(err && err.message));
  }
}).listen(process.env.PORT || 8080);
`;

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, '-c', 'user.email=dev@example.com', '-c', 'user.name=dev', ...args], { encoding: 'utf8' });
}

/** The environment a container was started with. */
async function containerEnv(id: string): Promise<Record<string, string>> {
  const info = await docker.getContainer(id).inspect();
  return Object.fromEntries(info.Config.Env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

describe('databases as apps expect them', { timeout: 900_000 }, () => {
  let p: Platform;
  let repo: string;
  const home = mkdtempSync(join(tmpdir(), 'gearshift-db-cli-'));
  const apps = '/domains/dev/apps';
  const host = 'shop-dev.localhost';

  const push = () => gitPush(repo, `http://dev:${p.token}@127.0.0.1:${p.port}/git/dev/shop.git`);

  const get = async (path: string) => {
    const r = await p.viaRouter(host, path);
    assert.equal(r.status, 200, `${path}: ${r.body}`);
    return JSON.parse(r.body) as { fact: string; tls?: boolean };
  };

  const dbContainer = async (cartridge: string) => {
    const [c] = await p.containers({ 'gearshift.app-name': 'shop', 'gearshift.cartridge': cartridge });
    assert.ok(c, `a ${cartridge} gear runs`);
    return c;
  };

  const gearshift = (args: string[], input?: string) => runCli(p, home, args, input);

  before(async () => {
    p = await Platform.start('databases', { node1: {} }, { router: true });
    assert.equal((await p.api('POST', '/domains', { name: 'dev' })).status, 201);
    const res = await p.api('POST', `${apps}?wait=180`, { name: 'shop', cartridges: ['nodejs-18', 'postgresql-15'] });
    assert.equal(res.body.operation?.state, 'succeeded', JSON.stringify(res.body));
    await psqlIn(p, 'shop', "create table facts (text text); insert into facts values ('written by the test')");
    repo = mkdtempSync(join(tmpdir(), 'gearshift-db-shop-'));
    git(repo, 'init', '-q', '-b', 'main');
    writeFileSync(join(repo, 'package.json'), JSON.stringify({ name: 'shop', version: '1.0.0', main: 'server.js' }, null, 2));
    writeFileSync(join(repo, 'server.js'), APP);
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'an app that configures nothing about its database');
    const pushed = await push();
    assert.ok(pushed.ok, pushed.output);
    await eventually('the release to answer', async () => (await p.viaRouter(host, '/health')).status === 200, 30_000, 250);
  });
  after(async () => {
    await p?.stop();
    if (repo) rmSync(repo, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  });

  it('new pg.Pool() with no arguments reaches the database through the libpq variables', async () => {
    assert.deepEqual(await get('/pool'), { fact: 'written by the test' });
  });

  it('ssl: {rejectUnauthorized: false} with DATABASE_URL is a TLS connection, as the server confirms', async () => {
    assert.deepEqual(await get('/tls'), { tls: true, fact: 'written by the test' });
  });

  it('a connection that does not ask for TLS still works, in plain', async () => {
    assert.deepEqual(await get('/plain'), { tls: false, fact: 'written by the test' });
  });

  it("libpq's sslmode=require connects, and the server's certificate is issued by the platform CA", async () => {
    const db = await dbContainer('postgresql-15');
    const env = await containerEnv(db.Id);
    const conninfo = `host=127.0.0.1 user=${env.POSTGRESQL_USER} dbname=${env.POSTGRESQL_DATABASE} sslmode=require`;
    const out = await execIn(db.Id, [
      'env',
      `PGPASSWORD=${env.POSTGRESQL_PASSWORD}`,
      'psql',
      '-qAt',
      conninfo,
      '-c',
      'select ssl from pg_stat_ssl where pid = pg_backend_pid()',
    ]);
    assert.equal(out, 't');
    // From the host, at the port the gear publishes: a client that trusts only the platform CA verifies the chain.
    const ca = CertificateAuthority.fromSecretKey(Buffer.from(readFileSync(join(p.dataDir, 'secret.key'), 'utf8').trim(), 'base64'));
    const port = Number(Object.values((await docker.getContainer(db.Id).inspect()).NetworkSettings.Ports)[0]?.[0]?.HostPort);
    let subject = '';
    const client = new Client({
      host: '127.0.0.1',
      port,
      user: env.POSTGRESQL_USER,
      password: env.POSTGRESQL_PASSWORD,
      database: env.POSTGRESQL_DATABASE,
      ssl: {
        ca: ca.certificate,
        // The gear is reached by its cartridge's name on the app's network; here it is an address on the host.
        checkServerIdentity: (_host, cert) => {
          subject = String(cert.subject.CN);
          return undefined;
        },
      },
    });
    await client.connect();
    try {
      assert.equal((await client.query('select ssl from pg_stat_ssl where pid = pg_backend_pid()')).rows[0].ssl, true);
    } finally {
      await client.end();
    }
    assert.equal(subject, 'postgresql-15');
  });

  it('masks the generated credentials in the env listing, and shows them to the owner on ?reveal=true', async () => {
    const env = await containerEnv((await dbContainer('postgresql-15')).Id);
    const listed = await p.api('GET', `${apps}/shop/env`);
    assert.equal(listed.status, 200);
    const byName = (res: typeof listed) => Object.fromEntries((res.body.published as { name: string; value: string; from: string }[]).map((v) => [v.name, v]));
    const masked = byName(listed);
    assert.equal(masked.PGPASSWORD.value, '********');
    assert.equal(masked.DATABASE_URL.value, '********');
    assert.equal(masked.PGUSER.value, env.POSTGRESQL_USER, 'what is not secret is shown');
    assert.ok(!JSON.stringify(listed.body).includes(env.POSTGRESQL_PASSWORD), 'the password is nowhere in the listing');
    assert.equal(listed.body.revealed, false);

    const revealed = await p.api('GET', `${apps}/shop/env?reveal=true`);
    assert.equal(revealed.status, 200);
    const shown = byName(revealed);
    assert.equal(shown.PGPASSWORD.value, env.POSTGRESQL_PASSWORD);
    assert.equal(shown.PGPASSWORD.from, 'postgresql-15');
    assert.equal(shown.DATABASE_URL.value, `postgresql://${env.POSTGRESQL_USER}:${env.POSTGRESQL_PASSWORD}@postgresql-15:5432/${env.POSTGRESQL_DATABASE}`);
    assert.equal(revealed.body.revealed, true);
    assert.ok(!('GEARSHIFT_TLS_KEY' in shown), "the database's private key is not a variable the app is given");

    const bad = await p.api('GET', `${apps}/shop/env?reveal=maybe`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.details[0].pointer, '?reveal');
    assert.ok(!p.logs().includes(env.POSTGRESQL_PASSWORD), "the password is in no log of the platform's");
  });

  it('gearshift env APP --reveal prints the password; without it the table masks it', async () => {
    const env = await containerEnv((await dbContainer('postgresql-15')).Id);
    assert.equal((await gearshift(['login', '--password-stdin'], `${p.adminPassword}\n`)).code, 0);
    const plain = await gearshift(['env', 'shop', '-d', 'dev']);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /PGPASSWORD +\*{8} +postgresql-15/);
    assert.ok(!plain.stdout.includes(env.POSTGRESQL_PASSWORD));
    const shown = await gearshift(['env', 'shop', '-d', 'dev', '--reveal']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.ok(shown.stdout.includes(env.POSTGRESQL_PASSWORD), shown.stdout);
    const json = JSON.parse((await gearshift(['--json', 'env', 'list', 'shop', '-d', 'dev', '--reveal'])).stdout);
    assert.equal(json.PGPASSWORD, env.POSTGRESQL_PASSWORD);
    assert.equal(json.PGHOST, 'postgresql-15');
  });

  it('MariaDB accepts TLS with its own certificate, and plain connections', async () => {
    const added = await p.api('POST', `${apps}/shop/cartridges?wait=180`, { cartridge: 'mariadb-10.11' });
    assert.equal(added.body.operation?.state, 'succeeded', JSON.stringify(added.body));
    const db = await dbContainer('mariadb-10.11');
    const env = await containerEnv(db.Id);
    const status = (flag: string) =>
      execIn(db.Id, [
        'mariadb',
        '-h',
        '127.0.0.1',
        `-u${env.MYSQL_USER}`,
        `-p${env.MYSQL_PASSWORD}`,
        flag,
        '-N',
        '-e',
        "show session status like 'Ssl_version'",
        env.MYSQL_DATABASE,
      ]);
    assert.match(await status('--ssl'), /Ssl_version\s+TLSv1\.[23]/);
    assert.match(await status('--skip-ssl'), /^Ssl_version\s*$/);
    assert.notEqual(
      env.GEARSHIFT_TLS_KEY,
      (await containerEnv((await dbContainer('postgresql-15')).Id)).GEARSHIFT_TLS_KEY,
      'each database gear has its own key',
    );
    // The web app still has its PostgreSQL DATABASE_URL: the database embedded first keeps the name.
    assert.deepEqual(
      await eventually(
        'the app to answer after its restart',
        async () => {
          const r = await p.viaRouter(host, '/tls');
          return r.status === 200 && JSON.parse(r.body);
        },
        60_000,
        500,
      ),
      { tls: true, fact: 'written by the test' },
    );
  });

  it('gives a database embedded by an earlier version, without a certificate, one when the broker starts', async () => {
    const before = await containerEnv((await dbContainer('mariadb-10.11')).Id);
    // What an earlier version stored: the credentials, no certificate.
    const pg = new Client({ connectionString: p.databaseUrl });
    await pg.connect();
    try {
      const r = await pg.query(
        "update app_cartridges set generated = generated - 'GEARSHIFT_TLS_CERT' - 'GEARSHIFT_TLS_KEY' where cartridge = 'mariadb-10.11'",
      );
      assert.equal(r.rowCount, 1);
    } finally {
      await pg.end();
    }
    await p.stopBroker();
    await p.startBroker();
    const after = await eventually(
      'the MariaDB gear to run with a new certificate',
      async () => {
        const [c] = await p.containers({ 'gearshift.app-name': 'shop', 'gearshift.cartridge': 'mariadb-10.11' });
        if (c?.State !== 'running') return undefined;
        const env = await containerEnv(c.Id);
        return env.GEARSHIFT_TLS_CERT && env.GEARSHIFT_TLS_CERT !== before.GEARSHIFT_TLS_CERT ? { id: c.Id, env } : undefined;
      },
      120_000,
      500,
    );
    assert.equal(after.env.MYSQL_PASSWORD, before.MYSQL_PASSWORD, 'the credentials stay');
    const ssl = await eventually(
      'MariaDB to answer over TLS',
      async () => {
        const out = await execIn(after.id, [
          'mariadb',
          '-h',
          '127.0.0.1',
          `-u${after.env.MYSQL_USER}`,
          `-p${after.env.MYSQL_PASSWORD}`,
          '--ssl',
          '-N',
          '-e',
          "show session status like 'Ssl_version'",
          after.env.MYSQL_DATABASE,
        ]);
        return /Ssl_version\s+TLSv1/.test(out) && out;
      },
      60_000,
      500,
    );
    assert.match(ssl, /TLSv1\.[23]/);
  });
});
