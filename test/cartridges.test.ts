import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { docker, eventually, getJson, Platform } from './support/platform';

/**
 * The catalogue, cartridge by cartridge: each web runtime comes up healthy and answers; each service is wired to
 * the web gear through its published variables, and the web gear writes a row or key and reads it back.
 */
describe('cartridge catalogue', { timeout: 600_000 }, () => {
  let p: Platform;
  const apps = '/domains/cat/apps';

  before(async () => {
    p = await Platform.start('cartridges');
    assert.equal((await p.api('POST', '/domains', { name: 'cat' })).status, 201);
  });
  after(async () => {
    await p?.stop();
  });

  async function create(name: string, cartridges: string[]) {
    const res = await p.api('POST', `${apps}?wait=300`, { name, cartridges });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.operation.state, 'succeeded', `${res.body.operation.error}\n${p.logs()}`);
    const web = res.body.gears.find((g: { ports: { http?: number } }) => g.ports.http);
    return { app: res.body, url: web.endpoints.http as string };
  }

  it('lists every cartridge with its manifest', async () => {
    const names = (await p.api('GET', '/cartridges')).body.map((c: { name: string }) => c.name);
    for (const n of [
      'jenkins',
      'mariadb-10.11',
      'mongodb',
      'nodejs-18',
      'openjdk-17',
      'php-8.2',
      'postgresql-15',
      'python-3.11',
      'redis-7',
      'ruby-3.1',
      'static',
    ])
      assert.ok(names.includes(n), n);
  });

  it('runs the Python starter, which reaches PostgreSQL and writes and reads a row', async () => {
    const { url } = await create('pypg', ['python-3.11', 'postgresql-15']);
    const page = await getJson(url);
    assert.equal(page?.body.app, 'pypg');
    assert.match(page?.body.python, /^3\.11/);
    assert.equal(page?.body.database.reachable, true, JSON.stringify(page?.body.database));
    const test = await getJson(`${url}/selftest`);
    assert.equal(test?.body.postgresql.read, test?.body.postgresql.wrote, JSON.stringify(test?.body));
  });

  it('wires MariaDB and Redis to a Python web gear', async () => {
    const { url } = await create('pymy', ['python-3.11', 'mariadb-10.11', 'redis-7']);
    const test = await getJson(`${url}/selftest`);
    assert.ok(test?.body.mysql, JSON.stringify(test?.body));
    assert.equal(test?.body.mysql.read, test?.body.mysql.wrote);
    assert.equal(test?.body.redis.read, test?.body.redis.wrote, JSON.stringify(test?.body));
    assert.match((await getJson(url))?.body.database.version, /MariaDB/);
  });

  it('wires MariaDB and Redis to a Node.js web gear', async () => {
    const { url } = await create('nodemy', ['nodejs-18', 'mariadb-10.11', 'redis-7']);
    const test = await getJson(`${url}/selftest`);
    assert.equal(test?.body.mysql?.read, test?.body.mysql?.wrote, JSON.stringify(test?.body));
    assert.equal(test?.body.redis?.read, test?.body.redis?.wrote, JSON.stringify(test?.body));
  });

  it('runs PHP under Apache, wired to PostgreSQL and Redis', async () => {
    const { url } = await create('phpapp', ['php-8.2', 'postgresql-15', 'redis-7']);
    const page = await getJson(url);
    assert.match(page?.body.server, /^Apache/);
    assert.match(page?.body.php, /^8\.2/);
    assert.equal(page?.body.database.reachable, true, JSON.stringify(page?.body.database));
    const test = await getJson(`${url}/selftest`);
    assert.equal(test?.body.postgresql?.read, test?.body.postgresql?.wrote, JSON.stringify(test?.body));
    assert.equal(test?.body.redis?.read, test?.body.redis?.wrote, JSON.stringify(test?.body));
  });

  it('runs Ruby on Puma, wired to MariaDB and Redis', async () => {
    const { url } = await create('rubyapp', ['ruby-3.1', 'mariadb-10.11', 'redis-7']);
    const page = await getJson(url);
    assert.match(page?.body.ruby, /^3\.1/);
    assert.equal(page?.body.database.reachable, true, JSON.stringify(page?.body.database));
    const test = await getJson(`${url}/selftest`);
    assert.equal(test?.body.mysql?.read, test?.body.mysql?.wrote, JSON.stringify(test?.body));
    assert.equal(test?.body.redis?.read, test?.body.redis?.wrote, JSON.stringify(test?.body));
  });

  it('runs Ruby with PostgreSQL', async () => {
    const { url } = await create('rubypg', ['ruby-3.1', 'postgresql-15']);
    const test = await getJson(`${url}/selftest`);
    assert.equal(test?.body.postgresql?.read, test?.body.postgresql?.wrote, JSON.stringify(test?.body));
  });

  it('runs Java, wired to PostgreSQL and Redis', async () => {
    const { url } = await create('javaapp', ['openjdk-17', 'postgresql-15', 'redis-7']);
    // The JVM's first database connection (class loading, and TLS setup now that PostgreSQL offers it) can outlast
    // one request's timeout on a busy host; the page is asked for until it answers.
    const page = await eventually('the Java starter to answer', () => getJson(url), 60_000, 500);
    assert.match(page?.body.java, /^17/);
    assert.equal(page?.body.database.reachable, true, JSON.stringify(page?.body.database));
    const test = await getJson(`${url}/selftest`);
    assert.equal(test?.body.postgresql?.read, test?.body.postgresql?.wrote, JSON.stringify(test?.body));
    assert.equal(test?.body.redis?.read, test?.body.redis?.wrote, JSON.stringify(test?.body));
  });

  it('runs Java with MariaDB', async () => {
    const { url } = await create('javamy', ['openjdk-17', 'mariadb-10.11']);
    const test = await getJson(`${url}/selftest`);
    assert.equal(test?.body.mysql?.read, test?.body.mysql?.wrote, JSON.stringify(test?.body));
  });

  it('protects Redis with the generated password', async () => {
    const [redis] = await p.containers({ 'gearshift.app-name': 'nodemy', 'gearshift.cartridge': 'redis-7' });
    const exec = await docker.getContainer(redis.Id).exec({ Cmd: ['redis-cli', 'ping'], AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    let out = '';
    await new Promise((res) => {
      stream.on('data', (c: Buffer) => (out += c.toString()));
      stream.on('end', res);
    });
    assert.match(out, /NOAUTH/);
  });

  it('serves the static site', async () => {
    const { url } = await create('site', ['static']);
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /static site runs on Gearshift/);
  });

  for (const [cartridge, image, cartridges] of [
    ['mongodb', 'mongo:7.0', ['nodejs-18', 'mongodb']],
    ['jenkins', 'jenkins/jenkins:lts-jdk17', ['jenkins']],
  ] as const) {
    it(`says plainly that ${cartridge}'s image could not be pulled where no registry is reachable`, async () => {
      const manifest = (await p.api('GET', `/cartridges/${cartridge}`)).body.manifest;
      assert.equal(manifest.image.ref, image);
      const size = cartridge === 'jenkins' ? 'medium' : 'small';
      const res = await p.api('POST', `${apps}?wait=120`, { name: `with${cartridge}`, cartridges, size });
      assert.equal(res.status, 202);
      assert.equal(res.body.operation.state, 'failed');
      assert.match(res.body.operation.error, new RegExp(`image ${image.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} could not be pulled`));
      assert.equal(res.body.status, 'failed');
      const gear = res.body.gears.find((g: { cartridge: string }) => g.cartridge === cartridge);
      assert.equal(gear.state, 'failed');
      assert.match(gear.message, /could not be pulled/);
      assert.equal((await p.containers({ 'gearshift.app-name': `with${cartridge}` })).length, 0, 'nothing half-made on the node');
      const removed = await p.api('DELETE', `${apps}/with${cartridge}?wait=60`);
      assert.equal(removed.body.operation.state, 'succeeded');
    });
  }

  it('refuses two runtimes or two caches of a kind with 422', async () => {
    const two = await p.api('POST', apps, { name: 'bad', cartridges: ['nodejs-18', 'python-3.11'] });
    assert.equal(two.status, 422);
    assert.equal(two.body.details[0].rule, 'one-web-cartridge');
  });
});
