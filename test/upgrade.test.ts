import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, getJson, Platform, psqlIn, ROOT } from './support/platform';

/**
 * A new version of a cartridge replaces its gears and keeps the data in their volumes; an operator adds a
 * third-party cartridge, validated like the built-in ones.
 */
describe('cartridge upgrades and third-party cartridges', { timeout: 600_000 }, () => {
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

    const after = await eventually(
      'the database gear to run the new image',
      async () => {
        const [c] = await p.containers({ 'gearshift.app-name': 'keep', 'gearshift.cartridge': 'postgresql-15' });
        return c && c.Id !== before.Id && c.State === 'running' && c.Image.endsWith(newHash) ? c : null;
      },
      240_000,
      500,
    );
    assert.ok(after);
    const rows = await eventually(
      'the upgraded database to answer',
      async () => {
        const out = await psqlIn(p, 'keep', 'select body from notes').catch(() => '');
        return out.includes('written before the upgrade') ? out : null;
      },
      60_000,
      500,
    );
    assert.equal(rows, 'written before the upgrade');
    const web = (await p.api('GET', '/domains/up/apps/keep')).body.gears.find((g: { cartridge: string }) => g.cartridge === 'nodejs-18');
    const page = await eventually(
      'the web gear to reach the upgraded database',
      async () => {
        const r = await getJson(web.endpoints.http);
        return r?.body.database?.reachable ? r : null;
      },
      60_000,
      500,
    );
    assert.equal(page.body.database.reachable, true);
  });

  const addCartridge = (folder: string) =>
    spawnSync(process.execPath, [join(ROOT, 'dist/apps/broker/src/cartridges/add-cartridge.js'), 'add', folder], {
      env: { ...process.env, GEARSHIFT_CARTRIDGES_DIR: catalogue },
      encoding: 'utf8',
    });

  it('refuses a broken third-party cartridge, naming the file, the field and the rule', () => {
    const folder = join(mkdtempSync(join(tmpdir(), 'third-party-')), 'brokenweb');
    mkdirSync(folder);
    writeFileSync(join(folder, 'manifest.yml'), 'name: brokenweb\ndisplay-name: Broken\nversion: "1"\ncategories: [web]\nimage: { build: . }\nendpoints: []\n');
    const r = addCartridge(folder);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /manifest\.yml: \/endpoints a web cartridge needs a public http endpoint/);
    assert.ok(!existsSync(join(catalogue, 'brokenweb')), 'nothing was copied');
  });

  it('adds a third-party cartridge, reloads the catalogue, and runs an app with it', async () => {
    const folder = join(mkdtempSync(join(tmpdir(), 'third-party-')), 'hello-static');
    cpSync(join(ROOT, 'cartridges', 'static'), folder, { recursive: true });
    const manifest = readFileSync(join(folder, 'manifest.yml'), 'utf8')
      .replace('name: static', 'name: hello-static')
      .replace('display-name: Static site (nginx)', 'display-name: Hello');
    writeFileSync(join(folder, 'manifest.yml'), manifest);
    writeFileSync(join(folder, 'site', 'index.html'), '<h1>Hello from a third-party cartridge</h1>\n');
    const r = addCartridge(folder);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /added cartridge hello-static/);

    const reload = await p.api('POST', '/cartridges/reload');
    assert.equal(reload.status, 200, JSON.stringify(reload.body));
    assert.deepEqual(reload.body.added, ['hello-static']);
    const app = await p.api('POST', '/domains/up/apps?wait=180', { name: 'hello', cartridges: ['hello-static'] });
    assert.equal(app.body.operation.state, 'succeeded', app.body.operation.error);
    const page = await fetch(app.body.gears[0].endpoints.http);
    assert.match(await page.text(), /Hello from a third-party cartridge/);
  });

  it('keeps the catalogue in use when a reload finds a broken manifest', async () => {
    const file = join(catalogue, 'hello-static', 'manifest.yml');
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, good.replace('protocol: http', 'protocol: smtp'));
    try {
      const reload = await p.api('POST', '/cartridges/reload');
      assert.equal(reload.status, 400);
      assert.ok(
        reload.body.details.some((d: { pointer: string }) => d.pointer === '/endpoints/0/protocol'),
        JSON.stringify(reload.body),
      );
      assert.equal((await p.api('GET', '/cartridges/hello-static')).status, 200, 'the old catalogue is still served');
    } finally {
      writeFileSync(file, good);
    }
  });
});
