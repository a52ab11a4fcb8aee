import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent as HttpAgent } from 'node:http';
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertServedThroughRestart, docker, eventually, Platform, requestLoop as routerLoop, ROOT, sleep } from './support/platform';

/**
 * The catalogue plus a service whose image no node can pull (the platform's own registry answers at once that it
 * has no such image): a cartridge whose gear never starts, on any machine.
 */
function catalogueWithBrokenService(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gated-cartridges-'));
  for (const name of readdirSync(join(ROOT, 'cartridges'))) symlinkSync(join(ROOT, 'cartridges', name), join(dir, name));
  mkdirSync(join(dir, 'broken-db'));
  const registry = process.env.GEARSHIFT_REGISTRY || '127.0.0.1:5000';
  writeFileSync(
    join(dir, 'broken-db', 'manifest.yml'),
    [
      'name: broken-db',
      'display-name: A database that never starts',
      'version: "1"',
      'categories: [service, database]',
      'provides: [broken-db]',
      'image:',
      `  ref: "${registry}/gearshift-test/no-such-image:1"`,
      'endpoints:',
      '  - { name: db, port: 5432, protocol: tcp, public: false, health: { tcp: true } }',
      'publishes:',
      '  - { name: BROKEN_DB_URL, value: "broken://{{endpoint.db.host}}:{{endpoint.db.port}}" }',
      'scaling: { min: 1, max: 1 }',
      'sizes: [small]',
      '',
    ].join('\n'),
  );
  return dir;
}

/**
 * Health-gated configuration changes and `?wait` meaning serving, end to end through the REST API and the router:
 * an app answers its first request right after `create?wait`; an environment change or a restart rolls out beside
 * the serving gears, and one that breaks the app is rolled back while requests keep succeeding.
 */
describe('health-gated changes and ?wait meaning serving', { timeout: 900_000 }, () => {
  let p: Platform;
  const apps = '/domains/gated/apps';
  const host = 'shop-gated.localhost';

  before(async () => {
    // A short bound, so that the test of a router that never confirms does not wait long.
    p = await Platform.start(
      'gated',
      { node1: {} },
      { router: true, env: { GEARSHIFT_ROUTES_ACK_TIMEOUT_MS: '4000', GEARSHIFT_CARTRIDGES_DIR: catalogueWithBrokenService() } },
    );
    assert.equal((await p.api('POST', '/domains', { name: 'gated' })).status, 201);
    const res = await p.api('POST', `${apps}?wait=180`, { name: 'shop', cartridges: ['nodejs-18'] });
    assert.equal(res.body.operation?.state, 'succeeded', JSON.stringify(res.body));
  });
  after(async () => {
    await p?.stop();
  });

  const webGears = async (): Promise<string[]> =>
    (await p.api('GET', `${apps}/shop`)).body.gears
      .filter((g: { cartridge: string }) => g.cartridge === 'nodejs-18')
      .map((g: { id: string }) => g.id)
      .sort();

  /** Requests through the router until stop(); `gears` are the gears that answered. */
  function requestLoop() {
    const loop = routerLoop(p, host, (body) => JSON.parse(body).gear);
    return { ...loop, gears: loop.seen };
  }

  it('answers 200 to the first request after create?wait, 20 times in a row', async () => {
    // A new connection for each first request, as a client that resolves the new app's host name opens one. (Here
    // every host is reached at 127.0.0.1, and a pooled connection from before a reload would be answered once more by
    // the previous HAProxy worker, which never knew the new host.)
    const fresh = new HttpAgent({ keepAlive: false });
    for (let i = 0; i < 20; i++) {
      const name = `s${i}`;
      const created = await p.api('POST', `${apps}?wait=120`, { name, cartridges: ['static'] });
      assert.equal(created.body.operation?.state, 'succeeded', JSON.stringify(created.body));
      const r = await p.viaRouter(`${name}-gated.localhost`, '/', fresh);
      assert.equal(r.status, 200, `app ${name}, first request: ${r.status} ${r.body.slice(0, 200)}\n${await p.routingState(`${apps}/${name}`)}`);
      const steps: string[] = created.body.operation.steps.map((s: { text: string }) => s.text);
      assert.ok(!steps.some((t) => t.startsWith('warning:')), `the router confirmed the new routes in time:\n${steps.join('\n')}`);
      await p.api('DELETE', `${apps}/${name}`);
    }
  });

  it('rolls an environment change out beside the serving gear, without a failed request', async () => {
    const before = await webGears();
    const loop = requestLoop();
    await sleep(300);
    const res = await p.api('PATCH', `${apps}/shop/env?wait=180`, { GREETING: 'hello' });
    const ok = await loop.stop();
    assert.equal(res.body.operation?.state, 'succeeded', JSON.stringify(res.body.operation));
    assert.deepEqual(loop.failures.slice(0, 5), [], `${loop.failures.length} of ${ok + loop.failures.length} requests failed`);
    assert.ok(ok > 10, `only ${ok} requests went through`);
    const afterIds = await webGears();
    assert.equal(afterIds.length, before.length);
    assert.ok(
      afterIds.every((id) => !before.includes(id)),
      'new gears replaced the old ones',
    );
    assert.equal((await p.api('GET', `${apps}/shop/env`)).body.env.GREETING, 'hello');
    // The gear that serves now runs with the new variable.
    const [container] = await p.containers({ 'gearshift.gear': afterIds[0] });
    const env = (await docker.getContainer(container.Id).inspect()).Config.Env;
    assert.ok(env.includes('GREETING=hello'), env.join('\n'));
  });

  it('rolls back an environment change that breaks the app; the app answers throughout', async () => {
    const before = await webGears();
    const loop = requestLoop();
    await sleep(300);
    // Node refuses to start with an option it does not know in NODE_OPTIONS.
    const res = await p.api('PATCH', `${apps}/shop/env?wait=180`, { NODE_OPTIONS: '--gearshift-no-such-option' });
    await sleep(500);
    const ok = await loop.stop();
    const op = res.body.operation;
    assert.equal(op?.state, 'failed', JSON.stringify(op));
    assert.match(op.error, /the environment change was rolled back: gear nodejs-18 \w+ stopped with exit code \d+/);
    assert.match(op.error, /it printed:[\s\S]*--gearshift-no-such-option/, "the gear's own output says why");
    assert.ok(
      op.steps.some((s: { text: string }) => /previous gears keep serving/.test(s.text)),
      JSON.stringify(op.steps),
    );
    assert.deepEqual(loop.failures.slice(0, 5), [], `${loop.failures.length} of ${ok + loop.failures.length} requests failed`);
    assert.ok(ok > 10, `only ${ok} requests went through`);
    assert.deepEqual([...loop.gears].sort(), before, 'only the previous gear answered');
    assert.deepEqual(await webGears(), before, 'the previous gear still serves; the new one is gone');
    const env = (await p.api('GET', `${apps}/shop/env`)).body.env;
    assert.equal(env.NODE_OPTIONS, undefined, 'the app did not take the broken environment');
    assert.equal(env.GREETING, 'hello');
    const containers = await p.containers({ 'gearshift.app-name': 'shop' });
    assert.deepEqual(containers.map((c) => c.Labels['gearshift.gear']).sort(), before, "the new gear's container was removed");
    // And the app can be changed again.
    const again = await p.api('PATCH', `${apps}/shop/env?wait=180`, { GREETING: 'again' });
    assert.equal(again.body.operation?.state, 'succeeded', JSON.stringify(again.body.operation));
  });

  it('adds a service beside the serving gear: new gears get its variables, the old one is never replaced in place', async () => {
    const before = await webGears();
    const loop = requestLoop();
    await sleep(300);
    const res = await p.api('POST', `${apps}/shop/cartridges?wait=180`, { cartridge: 'redis-7' });
    const ok = await loop.stop();
    const op = res.body.operation;
    assert.equal(op?.state, 'succeeded', JSON.stringify(op));
    assert.deepEqual(loop.failures.slice(0, 5), [], `${loop.failures.length} of ${ok + loop.failures.length} requests failed`);
    const steps: string[] = op.steps.map((s: { text: string }) => s.text);
    assert.ok(!steps.some((t) => t.includes(`replacing gear nodejs-18 ${before[0].slice(0, 8)}`)), steps.join('\n'));
    const afterIds = await webGears();
    assert.ok(
      afterIds.every((id) => !before.includes(id)),
      'new gears replaced the old one',
    );
    const [container] = await p.containers({ 'gearshift.gear': afterIds[0] });
    const env = (await docker.getContainer(container.Id).inspect()).Config.Env;
    assert.ok(
      env.some((e: string) => e.startsWith('REDIS_URL=redis://')),
      env.join('\n'),
    );
  });

  it('rolls back adding a cartridge whose gear never starts; the app answers throughout', async () => {
    const before = await webGears();
    const loop = requestLoop();
    await sleep(300);
    const res = await p.api('POST', `${apps}/shop/cartridges?wait=180`, { cartridge: 'broken-db' });
    await sleep(500);
    const ok = await loop.stop();
    const op = res.body.operation;
    assert.equal(op?.state, 'failed', JSON.stringify(op));
    assert.match(op.error, /adding broken-db was rolled back: image \S+no-such-image:1 could not be pulled/);
    assert.deepEqual(loop.failures.slice(0, 5), [], `${loop.failures.length} of ${ok + loop.failures.length} requests failed`);
    assert.ok(ok > 10, `only ${ok} requests went through`);
    assert.deepEqual(await webGears(), before, 'the previous gear still serves');
    const app = (await p.api('GET', `${apps}/shop`)).body;
    assert.deepEqual(app.cartridges, ['nodejs-18', 'redis-7'], 'the cartridge went again');
    assert.equal((await p.containers({ 'gearshift.cartridge': 'broken-db' })).length, 0);
  });

  it('restarts a healthy app by replacing its gears, without a failed request', async () => {
    const scaled = await p.api('PUT', `${apps}/shop/scale?wait=180`, { replicas: 2 });
    assert.equal(scaled.body.operation?.state, 'succeeded', JSON.stringify(scaled.body.operation));
    const before = await webGears();
    assert.equal(before.length, 2);
    const loop = requestLoop();
    await sleep(300);
    const res = await p.api('POST', `${apps}/shop/actions?wait=180`, { action: 'restart' });
    // The service restarts in place; how long the app was without it is said, as the app's own downtime.
    await assertServedThroughRestart(loop, res.body.operation, 'redis-7');
    const afterIds = await webGears();
    assert.equal(afterIds.length, 2);
    assert.ok(
      afterIds.every((id) => !before.includes(id)),
      'the restart replaced every gear',
    );
    const r = await p.viaRouter(host, '/');
    assert.equal(r.status, 200);
    assert.ok(afterIds.includes(JSON.parse(r.body).gear), 'a new gear answers');
  });

  it('cancelling a restart takes away the gears it added: the app stays at its scale, served by its gears', async () => {
    const before = await webGears();
    assert.equal(before.length, 2);
    const started = await p.api('POST', `${apps}/shop/actions`, { action: 'restart' });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const op = started.body.operation.id as string;
    await eventually('the restart to add its new gears', async () => (await webGears()).length > before.length, 30_000, 20);
    const cancelled = await p.api('POST', `/operations/${op}/cancel`);
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    assert.deepEqual(await webGears(), before, 'the gears of the app before the restart, and no others');
    const app = await p.api('GET', `${apps}/shop`);
    assert.equal(app.body.gears.filter((g: { cartridge: string }) => g.cartridge === 'nodejs-18').length, 2);
    // The containers the restart started (or was still starting when it was cancelled) leave the node, and stay gone.
    const onlyKept = async () => {
      const running = await p.containers({ 'gearshift.app-name': 'shop', 'gearshift.cartridge': 'nodejs-18' });
      return running.length === 2 && running.every((c) => before.includes(c.Labels['gearshift.gear']));
    };
    let steady = 0;
    await eventually('only the containers of the kept gears to run, for 8 s', async () => (steady = (await onlyKept()) ? steady + 1 : 0) >= 16, 90_000, 500);
    const r = await p.viaRouter(host, '/');
    assert.equal(r.status, 200);
    assert.ok(before.includes(JSON.parse(r.body).gear), 'a kept gear answers');
  });

  it('ends an operation with a warning when a router does not confirm the new routes in time', async () => {
    // A router killed without a chance to say goodbye still counts as live for a while; the bound ends the wait.
    await p.router!.kill('SIGKILL');
    const res = await p.api('PUT', `${apps}/shop/scale?wait=180`, { replicas: 1 });
    const op = res.body.operation;
    assert.equal(op?.state, 'succeeded', JSON.stringify(op));
    assert.ok(
      op.steps.some((s: { text: string }) => /^warning: router\(s\) \S+ did not confirm the new routes within 4 s/.test(s.text)),
      JSON.stringify(op.steps),
    );
  });
});
