import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'pg';
import { docker, eventually, getJson, Platform } from './support/platform';

/**
 * The walking skeleton as a user meets it: log in, see the node, create a domain and an app with a web runtime and
 * a database, reach it over HTTP, change it, break it by hand and watch it heal, delete it.
 */
describe('platform end to end', { timeout: 600_000 }, () => {
  let p: Platform;
  const base = '/domains/shop/apps';

  before(async () => {
    p = await Platform.start('e2e');
  });
  after(async () => {
    await p?.stop();
  });

  const webGear = async (app = 'store') => {
    const res = await p.api('GET', `${base}/${app}`);
    return res.body.gears.find((g: { cartridge: string }) => g.cartridge === 'nodejs-18');
  };

  it('needs a token for everything but login and health', async () => {
    assert.equal((await p.api('GET', '/domains', undefined, null)).status, 401);
    assert.equal((await p.api('GET', '/domains', undefined, 'gst_not-a-token')).status, 401);
    assert.equal((await p.api('GET', '/healthz', undefined, null)).status, 200);
    const bad = await p.api('POST', '/auth/login', { username: 'admin', password: 'wrong' }, null);
    assert.equal(bad.status, 401);
    assert.equal(bad.body.code, 'unauthorized');
  });

  it('reports health of the broker, Postgres, Redis and the nodes', async () => {
    const res = await p.api('GET', '/healthz');
    assert.deepEqual({ status: res.body.status, postgres: res.body.postgres, redis: res.body.redis }, { status: 'ok', postgres: 'up', redis: 'up' });
    assert.ok(res.body.nodes.some((n: { name: string; ready: boolean }) => n.name === p.nodeName('node1') && n.ready));
    assert.ok(res.body.brokers.length >= 1 && res.body.brokerId);
  });

  it('tells a caller without an administrator token only what is up and how many, no names', async () => {
    for (const token of [null, 'gst_not-a-token']) {
      const res = await p.api('GET', '/healthz', undefined, token);
      assert.equal(res.status, 200);
      assert.deepEqual({ status: res.body.status, ready: res.body.ready }, { status: 'ok', ready: true });
      assert.ok(res.body.counts.nodes >= 1 && res.body.counts.readyNodes >= 1 && res.body.counts.brokers >= 1, JSON.stringify(res.body));
      assert.equal(res.body.nodes, undefined);
      assert.equal(res.body.brokers, undefined);
      assert.equal(res.body.brokerId, undefined);
      assert.doesNotMatch(JSON.stringify(res.body), new RegExp(p.nodeName('node1')));
    }
  });

  it('lists the node with its capacity and last heartbeat', async () => {
    const res = await p.api('GET', '/nodes');
    assert.equal(res.status, 200);
    const node = res.body.find((n: { name: string }) => n.name === p.nodeName('node1'));
    assert.ok(node, 'the agent is a node');
    assert.ok(node.capacity.memoryMb > 0);
    assert.ok(Date.now() - Date.parse(node.lastHeartbeat) < 10_000);
  });

  it('serves the cartridge catalogue and the OpenAPI document', async () => {
    const list = await p.api('GET', '/cartridges');
    const names = list.body.map((c: { name: string }) => c.name);
    assert.ok(names.includes('nodejs-18') && names.includes('postgresql-15'), names.join(', '));
    const one = await p.api('GET', '/cartridges/postgresql-15');
    assert.equal(one.body.manifest.publishes[0].name, 'DATABASE_URL');
    const doc = await getJson(`${p.baseUrl}/api/docs-json`);
    assert.equal(doc?.status, 200);
    assert.ok(doc?.body.paths['/api/v1/domains/{domain}/apps']);
  });

  it('creates an app with a web runtime and a database that answers HTTP and reaches its database', async () => {
    assert.equal((await p.api('POST', '/domains', { name: 'shop' })).status, 201);
    const res = await p.api('POST', `${base}?wait=300`, { name: 'store', cartridges: ['nodejs-18', 'postgresql-15'] });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.operation.state, 'succeeded', `${res.body.operation.error}\n${p.logs()}`);
    assert.equal(res.body.status, 'running');
    assert.equal(res.body.url, `http://store-shop.localhost:${p.routerPort}`);
    assert.equal(res.body.gears.length, 2);
    const gear = res.body.gears.find((g: { cartridge: string }) => g.cartridge === 'nodejs-18');
    const answer = await getJson(gear.endpoints.http);
    assert.equal(answer?.status, 200);
    assert.equal(answer?.body.app, 'store');
    assert.equal(answer?.body.database.reachable, true, JSON.stringify(answer?.body.database));
    assert.match(answer?.body.database.version, /PostgreSQL 15/);
  });

  it('labels containers, limits them by gear size and keeps the database on a volume', async () => {
    const containers = await p.containers({ 'gearshift.app-name': 'store' });
    assert.equal(containers.length, 2);
    for (const c of containers) {
      assert.equal(c.Labels['gearshift.domain'], 'shop');
      const info = await docker.getContainer(c.Id).inspect();
      assert.equal(info.HostConfig.Memory, 256 * 1024 * 1024);
      assert.equal(info.HostConfig.NanoCpus, 0.5e9);
    }
    const db = containers.find((c) => c.Labels['gearshift.cartridge'] === 'postgresql-15')!;
    const info = await docker.getContainer(db.Id).inspect();
    assert.equal(info.Mounts[0].Type, 'volume');
    assert.ok((await p.volumes()).some((v) => v.Name === info.Mounts[0].Name));
    const web = containers.find((c) => c.Labels['gearshift.cartridge'] === 'nodejs-18')!;
    const env = (await docker.getContainer(web.Id).inspect()).Config.Env;
    assert.ok(env.some((e) => e.startsWith('DATABASE_URL=postgresql://')));
    assert.ok(env.some((e) => e.startsWith('POSTGRESQL_PASSWORD=')));
  });

  it('never shows generated credentials in the API', async () => {
    const res = await p.api('GET', `${base}/store`);
    const containers = await p.containers({ 'gearshift.app-name': 'store', 'gearshift.cartridge': 'postgresql-15' });
    const env = (await docker.getContainer(containers[0].Id).inspect()).Config.Env;
    const password = env.find((e) => e.startsWith('POSTGRESQL_PASSWORD='))!.split('=')[1];
    assert.ok(password.length >= 20);
    assert.ok(!JSON.stringify(res.body).includes(password));
    assert.ok(!JSON.stringify((await p.api('GET', `${base}/store/env`)).body).includes(password));
    // Nor does Postgres hold it in clear: a dump of the broker's database shows sealed values only.
    const db = new Client({ connectionString: p.databaseUrl });
    await db.connect();
    const { rows } = await db.query(`select generated::text as g from app_cartridges where cartridge = 'postgresql-15'`);
    await db.end();
    assert.ok(rows.length > 0);
    for (const r of rows as { g: string }[]) {
      assert.ok(!r.g.includes(password), 'the password is sealed at rest');
      assert.match(r.g, /"POSTGRESQL_PASSWORD": "gs1:/);
    }
  });

  it('seals at start what an earlier version stored in clear, and still reads it', async () => {
    const [dbGear] = await p.containers({ 'gearshift.app-name': 'store', 'gearshift.cartridge': 'postgresql-15' });
    const password = (await docker.getContainer(dbGear.Id).inspect()).Config.Env.find((e) => e.startsWith('POSTGRESQL_PASSWORD='))!.split('=')[1];
    const db = new Client({ connectionString: p.databaseUrl });
    await db.connect();
    // As an earlier version stored it: the same password, in clear.
    await db.query(
      `update app_cartridges set generated = jsonb_set(generated, '{POSTGRESQL_PASSWORD}', to_jsonb($1::text)) where cartridge = 'postgresql-15'`,
      [password],
    );
    await p.stopBroker();
    await p.startBroker();
    const { rows } = await db.query(`select generated::text as g from app_cartridges where cartridge = 'postgresql-15'`);
    await db.end();
    assert.ok(!rows[0].g.includes(password));
    assert.match(rows[0].g, /"POSTGRESQL_PASSWORD": "gs1:/);
    // Read back the same: the gears keep their spec, and the web gear still reaches the database.
    const web = (await p.api('GET', `${base}/store`)).body.gears.find((g: { cartridge: string }) => g.cartridge === 'nodejs-18');
    assert.equal((await getJson(web.endpoints.http))?.body.database.reachable, true);
    assert.equal(
      (await p.containers({ 'gearshift.app-name': 'store', 'gearshift.cartridge': 'postgresql-15' }))[0].Id,
      dbGear.Id,
      'the database gear was not replaced',
    );
  });

  it('refuses a second app with the same name', async () => {
    const res = await p.api('POST', base, { name: 'store', cartridges: ['nodejs-18'] });
    assert.equal(res.status, 409);
    assert.equal(res.body.details[0].pointer, '/name');
  });

  it('restarts the gears with new environment values', async () => {
    const res = await p.api('PATCH', `${base}/store/env?wait=120`, { GREETING: 'hello', UNUSED: 'x' });
    assert.equal(res.body.operation.state, 'succeeded', res.body.operation.error);
    assert.deepEqual(res.body.env, { GREETING: 'hello', UNUSED: 'x' });
    const web = (await p.containers({ 'gearshift.app-name': 'store', 'gearshift.cartridge': 'nodejs-18' }))[0];
    const env = (await docker.getContainer(web.Id).inspect()).Config.Env;
    assert.ok(env.includes('GREETING=hello'));
    const unset = await p.api('DELETE', `${base}/store/env/UNUSED?wait=120`);
    assert.deepEqual(unset.body.env, { GREETING: 'hello' });
    assert.equal((await p.api('DELETE', `${base}/store/env/NOPE`)).status, 404);
    const answer = await getJson((await webGear()).endpoints.http);
    assert.equal(answer?.body.database.reachable, true);
  });

  it('stops, starts and restarts the app', async () => {
    const stopped = await p.api('POST', `${base}/store/actions?wait=120`, { action: 'stop' });
    assert.equal(stopped.body.operation.state, 'succeeded', stopped.body.operation.error);
    const running = (await p.containers({ 'gearshift.app-name': 'store' })).filter((c) => c.State === 'running');
    assert.equal(running.length, 0);
    const started = await p.api('POST', `${base}/store/actions?wait=120`, { action: 'start' });
    assert.equal(started.body.operation.state, 'succeeded', started.body.operation.error);
    assert.equal(started.body.status, 'running');
    const before = (await webGear()).id;
    const beforeContainer = (await p.containers({ 'gearshift.gear': before }))[0].Id;
    const restarted = await p.api('POST', `${base}/store/actions?wait=120`, { action: 'restart' });
    assert.equal(restarted.body.operation.state, 'succeeded', restarted.body.operation.error);
    // A serving app's restart rolls out: a new gear, with its own container, replaced the old one.
    const afterContainer = (await p.containers({ 'gearshift.gear': (await webGear()).id }))[0].Id;
    assert.notEqual(afterContainer, beforeContainer, 'a restart replaces the container');
    assert.equal((await getJson((await webGear()).endpoints.http))?.status, 200);
  });

  it('adds and removes a database cartridge', async () => {
    const created = await p.api('POST', `${base}?wait=120`, { name: 'blog', cartridges: ['nodejs-18'] });
    assert.equal(created.body.operation.state, 'succeeded', created.body.operation.error);
    let answer = await getJson((await webGear('blog')).endpoints.http);
    assert.equal(answer?.body.database.configured, false);
    const added = await p.api('POST', `${base}/blog/cartridges?wait=180`, { cartridge: 'postgresql-15' });
    assert.equal(added.body.operation.state, 'succeeded', added.body.operation.error);
    answer = await getJson((await webGear('blog')).endpoints.http);
    assert.equal(answer?.body.database.reachable, true);
    assert.equal((await p.api('POST', `${base}/blog/cartridges`, { cartridge: 'postgresql-15' })).status, 409);
    const removed = await p.api('DELETE', `${base}/blog/cartridges/postgresql-15?wait=120`);
    assert.equal(removed.body.operation.state, 'succeeded', removed.body.operation.error);
    assert.deepEqual(removed.body.cartridges, ['nodejs-18']);
    assert.equal((await p.containers({ 'gearshift.app-name': 'blog', 'gearshift.cartridge': 'postgresql-15' })).length, 0);
    answer = await getJson((await webGear('blog')).endpoints.http);
    assert.equal(answer?.body.database.configured, false);
    const web = await p.api('DELETE', `${base}/blog/cartridges/nodejs-18`);
    assert.equal(web.status, 422);
  });

  it('brings back a gear container removed or stopped by hand', async () => {
    const gear = await webGear();
    const [container] = await p.containers({ 'gearshift.gear': gear.id });
    await docker.getContainer(container.Id).remove({ force: true });
    const back = await eventually(
      'the removed gear to come back',
      async () => {
        const [c] = await p.containers({ 'gearshift.gear': gear.id });
        return c && c.State === 'running' && c.Id !== container.Id ? c : null;
      },
      30_000,
    );
    assert.ok(back);
    const [db] = await p.containers({ 'gearshift.app-name': 'store', 'gearshift.cartridge': 'postgresql-15' });
    await docker.getContainer(db.Id).stop();
    await eventually(
      'the stopped database gear to run again',
      async () => {
        const [c] = await p.containers({ 'gearshift.gear': db.Labels['gearshift.gear'] });
        return c?.State === 'running';
      },
      30_000,
    );
    const answer = await eventually(
      'the app to answer again',
      async () => {
        const a = await getJson((await webGear()).endpoints.http);
        return a?.body.database?.reachable ? a : null;
      },
      30_000,
    );
    assert.equal(answer.body.database.reachable, true);
  });

  it('removes a container that carries Gearshift labels but belongs to no gear', async () => {
    const nodes = await p.api('GET', '/nodes');
    const nodeId = nodes.body.find((n: { name: string }) => n.name === p.nodeName('node1')).id;
    const stray = await docker.createContainer({
      Image: 'gearshift/base:bookworm',
      Cmd: ['sleep', '600'],
      Labels: {
        'gearshift.managed-by': 'gearshift',
        'gearshift.instance': p.instance,
        'gearshift.node': nodeId,
        'gearshift.app': '00000000-0000-4000-8000-000000000000',
        'gearshift.gear': '00000000-0000-4000-8000-000000000001',
      },
    });
    await stray.start();
    await eventually(
      'the stray container to be removed',
      async () => {
        const left = await p.containers({ 'gearshift.gear': '00000000-0000-4000-8000-000000000001' });
        return left.length === 0;
      },
      30_000,
    );
  });

  it('deletes an app with its containers, network and volume, and keeps the domain', async () => {
    const res = await p.api('DELETE', `${base}/store?wait=120`);
    assert.equal(res.status, 202);
    assert.equal(res.body.operation.state, 'succeeded', res.body.operation.error);
    assert.equal((await p.api('GET', `${base}/store`)).status, 404);
    assert.equal((await p.containers({ 'gearshift.app-name': 'store' })).length, 0);
    assert.equal((await p.volumes()).length, 0);
    assert.equal((await p.api('GET', '/domains/shop')).status, 200);
    // The operation outlives the app.
    const op = await p.api('GET', `/operations/${res.body.operation.id}`);
    assert.equal(op.body.state, 'succeeded');
    assert.equal((await p.api('DELETE', '/domains/shop')).status, 409, 'blog still lives there');
  });

  it("hides one user's domains from another", async () => {
    const created = await p.api('POST', '/users', { username: 'alice', password: 'correct horse' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const login = await p.api('POST', '/auth/login', { username: 'alice', password: 'correct horse' }, null);
    const alice = login.body.token;
    assert.equal((await p.api('GET', '/domains/shop', undefined, alice)).status, 404);
    assert.equal((await p.api('GET', `${base}/blog`, undefined, alice)).status, 404);
    assert.deepEqual((await p.api('GET', '/domains', undefined, alice)).body, []);
    assert.equal((await p.api('POST', '/users', { username: 'bob', password: 'long enough' }, alice)).status, 403);
    assert.equal((await p.api('GET', '/nodes', undefined, alice)).status, 403);
    assert.equal((await p.api('POST', '/domains', { name: 'shop' }, alice)).status, 409);
  });
});
