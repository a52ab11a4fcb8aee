import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertServedThroughRestart, Platform, requestLoop, sleep } from './support/platform';

/**
 * A restart of an app with a database, through the router: the database restarts in place (the app's own downtime,
 * which the operation states and measures), while the serving web gears go on answering and the new ones start
 * once it is back. The starter app answers without its database, so no request may fail.
 */
describe('restarting an app whose database restarts in place', { timeout: 600_000 }, () => {
  let p: Platform;
  const app = '/domains/rdb/apps/shop';
  const host = 'shop-rdb.localhost';

  before(async () => {
    p = await Platform.start('restart-db', { node1: {} }, { router: true });
    assert.equal((await p.api('POST', '/domains', { name: 'rdb' })).status, 201);
    const res = await p.api('POST', '/domains/rdb/apps?wait=240', { name: 'shop', cartridges: ['nodejs-18', 'postgresql-15'], scale: 2 });
    assert.equal(res.body.operation?.state, 'succeeded', JSON.stringify(res.body));
  });
  after(async () => {
    await p?.stop();
  });

  const webGears = async (): Promise<string[]> =>
    (await p.api('GET', app)).body.gears
      .filter((g: { cartridge: string }) => g.cartridge === 'nodejs-18')
      .map((g: { id: string }) => g.id)
      .sort();

  it('serves every request through the restart of an app of two web gears, and says how long the database was away', async () => {
    const before = await webGears();
    assert.equal(before.length, 2);
    const loop = requestLoop(p, host, (body) => JSON.parse(body).gear);
    await sleep(300);
    const res = await p.api('POST', `${app}/actions?wait=240`, { action: 'restart' });
    await sleep(300);
    const { ok, back } = await assertServedThroughRestart(loop, res.body.operation, 'postgresql-15');
    console.log(`# ${back}; ${ok} requests answered, none failed`);
    const afterIds = await webGears();
    assert.equal(afterIds.length, 2);
    assert.ok(
      afterIds.every((id) => !before.includes(id)),
      'new web gears replaced the old ones',
    );
    const r = await p.viaRouter(host, '/');
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).database.reachable, true, r.body);
  });
});
