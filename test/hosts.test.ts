import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import IORedis from 'ioredis';
import { Client } from 'pg';
import { routersKey, routesChannel, routesKey, type RouteTable } from '@gearshift/cartridges';
import { selfSigned, servedCertificate } from './support/certificates';
import { eventually, Platform } from './support/platform';
import { REDIS_URL } from './support/stores';

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

describe('host names are owned, and a certificate cannot hurt the router', { timeout: 600_000 }, () => {
  let p: Platform;
  let bob = '';
  const alpha = '/domains/alpha/apps';
  const beta = '/domains/beta/apps';
  const siteHost = 'site-alpha.localhost';

  // The operator's certificate names none of the apps' hosts: it is what a host without its own certificate gets.
  const operatorPair = selfSigned(['router.gearshift.test']);
  const operatorDir = mkdtempSync(join(tmpdir(), 'hosts-operator-'));
  const operatorPem = join(operatorDir, 'apps.pem');
  writeFileSync(operatorPem, `${operatorPair.certificate}${operatorPair.key}`);

  before(async () => {
    p = await Platform.start('hosts', { node1: {} }, { router: true, env: { GEARSHIFT_ROUTER_CERTIFICATE: operatorPem } });
    assert.equal((await p.api('POST', '/users', { username: 'bob', password: 'bob-password-1' })).status, 201);
    const login = await p.api('POST', '/auth/login', { username: 'bob', password: 'bob-password-1' }, null);
    assert.equal(login.status, 200);
    bob = login.body.token;
    assert.equal((await p.api('POST', '/domains', { name: 'alpha' })).status, 201);
    assert.equal((await p.api('POST', '/domains', { name: 'beta' }, bob)).status, 201);
    const site = await p.api('POST', `${alpha}?wait=120`, { name: 'site', cartridges: ['nodejs-18'] });
    assert.equal(site.body.operation?.state, 'succeeded', JSON.stringify(site.body));
    const blog = await p.api('POST', `${beta}?wait=120`, { name: 'blog', cartridges: ['nodejs-18'] }, bob);
    assert.equal(blog.body.operation?.state, 'succeeded', JSON.stringify(blog.body));
    await eventually('the router to serve the app', async () => (await p.viaRouter(siteHost)).status === 200, 15_000, 100);
  });
  after(async () => {
    await p?.stop();
    rmSync(operatorDir, { recursive: true, force: true });
  });

  // Bob's certificate names his alias and, greedily, every host under the apps domain.
  const greedy = selfSigned(['blog.beta.test', '*.localhost']);

  const refusal = async (host: string) => {
    const res = await p.api('POST', `${beta}/blog/aliases`, { host }, bob);
    return { status: res.status, pointer: res.body.details?.[0]?.pointer, rule: res.body.details?.[0]?.rule, message: res.body.message as string };
  };

  it('refuses an alias on an IP address, in any form, with its own rule', async () => {
    for (const host of ['127.0.0.1', '127.1', '0x7f.0.0.1', '2130706433', '169.254.169.254', '::1', '[::1]', '::ffff:127.0.0.1']) {
      const r = await refusal(host);
      assert.deepEqual([r.status, r.pointer, r.rule], [422, '/host', 'not-ip-address'], `${host}: ${JSON.stringify(r)}`);
      assert.match(r.message, /is an IP address/);
    }
    // The router still answers its own address with the unknown-host page, not with a tenant's app.
    assert.equal((await p.viaRouter('127.0.0.1')).status, 404);
  });

  it('refuses localhost and the apps domain', async () => {
    for (const host of ['localhost', 'evil.localhost', 'site-alpha.localhost']) {
      const r = await refusal(host);
      assert.equal(r.status, 422, host);
      assert.equal(r.pointer, '/host');
      assert.ok(['not-localhost', 'reserved'].includes(r.rule), `${host}: ${r.rule}`);
    }
  });

  it("refuses a host another team's app holds: first claim wins", async () => {
    assert.equal((await p.api('POST', `${alpha}/site/aliases`, { host: 'www.first.test' })).status, 201);
    const r = await refusal('www.first.test');
    assert.deepEqual([r.status, r.pointer, r.rule], [422, '/host', 'owned'], JSON.stringify(r));
    assert.match(r.message, /already held by another team's app/);
    // The holder itself is told the name is taken, as before.
    assert.equal((await p.api('POST', `${alpha}/site/aliases`, { host: 'www.first.test' })).status, 409);
  });

  it('holds the same rules when aliases come from a gearshift.yml', async () => {
    const apply = async (alias: string) => {
      const res = await fetch(`${p.baseUrl}/api/v1/domains/beta/apply?wait=60`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bob}`, 'content-type': 'text/yaml' },
        body: `name: blog\ncartridges: [nodejs-18]\naliases: [${alias}]\n`,
      });
      const body = (await res.json()) as { details?: { pointer: string; rule: string }[]; operation?: { state: string; error: string } };
      return { status: res.status, rule: body.details?.[0]?.rule, body };
    };
    for (const [alias, rule] of [
      ['www.first.test', 'owned'],
      ['127.0.0.1', 'not-ip-address'],
    ]) {
      const r = await apply(alias);
      assert.deepEqual([r.status, r.rule], [422, rule], `${alias}: ${JSON.stringify(r.body)}`);
    }
    assert.equal((await p.api('GET', `${beta}/blog/aliases`, undefined, bob)).body.length, 0, 'nothing stored');
  });

  it('refuses a 1024-bit key before storing it', async () => {
    const weak = selfSigned(['weak.beta.test'], 1024);
    const res = await p.api('POST', `${beta}/blog/aliases`, { host: 'weak.beta.test', ...weak }, bob);
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.deepEqual([res.body.details[0].pointer, res.body.details[0].rule], ['/key', 'key-strength']);
    assert.equal((await p.api('GET', `${beta}/blog/aliases`, undefined, bob)).body.length, 0, 'nothing stored');
  });

  it("serves a certificate only for the alias it was uploaded for, never for another tenant's host it names", async () => {
    const added = await p.api('POST', `${beta}/blog/aliases`, { host: 'blog.beta.test', ...greedy }, bob);
    assert.equal(added.status, 201, JSON.stringify(added.body));
    await eventually(
      "bob's certificate to be served for his alias",
      async () => (await servedCertificate(p.routerTlsPort, 'blog.beta.test')) === fingerprint(greedy.certificate),
      15_000,
      200,
    );
    assert.equal(await servedCertificate(p.routerTlsPort, siteHost), fingerprint(operatorPair.certificate), "alpha's host gets the operator's certificate");
    assert.equal(await servedCertificate(p.routerTlsPort, 'anything.localhost'), fingerprint(operatorPair.certificate));
  });

  /** The routes version every router says it serves. */
  const servedVersion = async (redis: IORedis) => {
    const acks = Object.values(await redis.hgetall(routersKey(p.instance))).map((j) => (JSON.parse(j) as { version: number }).version);
    return acks.length ? Math.min(...acks) : 0;
  };

  it('keeps applying route tables that carry a bad certificate, written to Redis directly', async () => {
    const redis = new IORedis(REDIS_URL);
    try {
      const table = JSON.parse((await redis.get(routesKey(p.instance)))!) as RouteTable;
      const site = table.apps.find((a) => a.app === 'site')!;
      const weak = selfSigned(['www.first.test'], 1024);
      site.tls.push({ host: 'www.first.test', pem: `${weak.certificate}${weak.key}` });
      table.apps.push({ ...site, appId: 'ffffffff-0000-4000-8000-000000000000', app: 'broken', hosts: ['bad host name'], tls: [] });
      table.version += 1;
      await redis.set(routesKey(p.instance), JSON.stringify(table));
      await redis.publish(routesChannel(p.instance), String(table.version));
      await eventually('the router to serve the table with the bad items left out', async () => (await servedVersion(redis)) >= table.version, 20_000, 200);
      assert.equal((await p.viaRouter(siteHost)).status, 200);
      assert.equal((await p.viaRouter('www.first.test')).status, 200, 'the alias is still served over HTTP');
      assert.match(p.router!.output.join('\n'), /left out of routes version[\s\S]*certificate of www\.first\.test[\s\S]*1024 bits/);
      assert.match(p.router!.output.join('\n'), /app broken-alpha[\s\S]*host name that is not one/);
    } finally {
      redis.disconnect();
    }
  });

  it('keeps routing new apps while the broker itself publishes a bad certificate', async () => {
    // A pair stored before the broker checked keys: in Postgres as it stands, so every table the broker publishes
    // carries it (keys written before sealing are read as they are).
    const weak = selfSigned(['old.first.test'], 1024);
    const pg = new Client({ connectionString: p.databaseUrl });
    await pg.connect();
    try {
      await pg.query(`insert into aliases (app_id, host, certificate, private_key) select a.id, 'old.first.test', $1, $2 from apps a where a.name = 'site'`, [
        weak.certificate,
        weak.key,
      ]);
    } finally {
      await pg.end();
    }
    const fresh = await p.api('POST', `${alpha}?wait=120`, { name: 'fresh', cartridges: ['nodejs-18'] });
    assert.equal(fresh.body.operation?.state, 'succeeded', JSON.stringify(fresh.body));
    const res = await eventually(
      'the new app to be routed',
      async () => {
        const r = await p.viaRouter('fresh-alpha.localhost');
        return r.status === 200 ? r : null;
      },
      20_000,
      200,
    );
    assert.equal(JSON.parse(res.body).app, 'fresh');
    const redis = new IORedis(REDIS_URL);
    try {
      const table = JSON.parse((await redis.get(routesKey(p.instance)))!) as RouteTable;
      assert.ok(
        table.apps.some((a) => a.tls.some((t) => t.host === 'old.first.test')),
        'the published table does carry the bad certificate',
      );
    } finally {
      redis.disconnect();
    }
    assert.equal(await servedCertificate(p.routerTlsPort, 'blog.beta.test'), fingerprint(greedy.certificate), 'sound certificates are still served');
  });
});
