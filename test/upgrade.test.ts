import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, getJson, Platform, psqlIn, ROOT } from './support/platform';

/** A new version of a cartridge replaces its gears and keeps the data in their volumes. */
describe('cartridge upgrade', { timeout: 600_000 }, () => {
  let p: Platform;
  const catalogue = mkdtempSync(join(tmpdir(), 'catalogue-'));
  cpSync(join(ROOT, 'cartridges'), catalogue, { recursive: true });

  before(async () => {
    p = await Platform.start('upgrade', { node1: {} }, { env: { GEARSHIFT_CARTRIDGES_DIR: catalogue } });
    assert.equal((await p.api('POST', '/domains', { name: 'up' })).status, 201);
  });
  after(async () => {
    await p?.stop();
    rmSync(catalogue, { recursive: true, force: true });
  });

  it('replaces the database gear with the new image and keeps its rows', async () => {
    const created = await p.api('POST', '/domains/up/apps?wait=180', { name: 'keep', cartridges: ['nodejs-18', 'postgresql-15'] });
    assert.equal(created.body.operation.state, 'succeeded', created.body.operation.error);
    await psqlIn(p, 'keep', "create table notes (body text); insert into notes values ('written before the upgrade')");
    const [before] = await p.containers({ 'gearshift.app-name': 'keep', 'gearshift.cartridge': 'postgresql-15' });
    const oldHash = (await p.api('GET', '/cartridges/postgresql-15')).body.hash;

    // A new version of the cartridge: its folder changes, so its hash and image tag change.
    appendFileSync(join(catalogue, 'postgresql-15', 'Dockerfile'), 'LABEL dev.gearshift.revision="2"\n');
    await p.stopAgent('node1');
    await p.stopBroker();
    await p.startBroker();
    await p.startAgent('node1');
    const newHash = (await p.api('GET', '/cartridges/postgresql-15')).body.hash;
    assert.notEqual(newHash, oldHash);

    const after = await eventually('the database gear to run the new image', async () => {
      const [c] = await p.containers({ 'gearshift.app-name': 'keep', 'gearshift.cartridge': 'postgresql-15' });
      return c && c.Id !== before.Id && c.State === 'running' && c.Image.endsWith(newHash) ? c : null;
    }, 240_000, 500);
    assert.ok(after);
    const rows = await eventually('the upgraded database to answer', async () => {
      const out = await psqlIn(p, 'keep', 'select body from notes').catch(() => '');
      return out.includes('written before the upgrade') ? out : null;
    }, 60_000, 500);
    assert.equal(rows, 'written before the upgrade');
    const web = (await p.api('GET', '/domains/up/apps/keep')).body.gears.find((g: { cartridge: string }) => g.cartridge === 'nodejs-18');
    const page = await eventually('the web gear to reach the upgraded database', async () => {
      const r = await getJson(web.endpoints.http);
      return r?.body.database?.reachable ? r : null;
    }, 60_000, 500);
    assert.equal(page.body.database.reachable, true);
  });
});
