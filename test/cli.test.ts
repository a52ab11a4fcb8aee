import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashFolder } from '@gearshift/cartridges';
import { docker, getJson, Platform, ROOT, runCli } from './support/platform';

/** The gearshift CLI, driven as a person or a script would, against a real platform. */
describe('gearshift CLI', { timeout: 600_000 }, () => {
  let p: Platform;
  const home = mkdtempSync(join(tmpdir(), 'cli-home-'));

  before(async () => {
    p = await Platform.start('cli');
  });
  after(async () => {
    await p?.stop();
  });

  function gearshift(args: string[], input?: string) {
    return runCli(p, home, args, input);
  }

  it('logs in and keeps the token in a file only the user can read', async () => {
    const r = await gearshift(['login', '--password-stdin'], `${p.adminPassword}\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Logged in to .* as admin/);
    const file = join(home, 'gearshift', 'config.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.match(JSON.parse(readFileSync(file, 'utf8')).token, /^gst_/);
    assert.ok(!r.stdout.includes(p.adminPassword) && !r.stderr.includes(p.adminPassword), 'the password is never printed');
    const bad = await gearshift(['login', '--password-stdin'], 'wrong\n');
    assert.equal(bad.code, 3);
    assert.match(bad.stderr, /wrong username or password/);
  });

  it('points a user whose one domain was made through the API to it, rather than to create it', async () => {
    assert.equal((await p.api('POST', '/domains', { name: 'first' })).status, 201);
    const list = await gearshift(['apps', 'list']);
    assert.equal(list.code, 2, list.stderr);
    assert.match(list.stderr, /no default domain: make yours the default with: gearshift domains use first/);
    assert.doesNotMatch(list.stderr, /domains create/);
    const again = await gearshift(['domains', 'create', 'first']);
    assert.equal(again.code, 3, again.stderr);
    assert.match(again.stderr, /you already have the domain first: make it the default with: gearshift domains use first/);
    assert.equal((await p.api('DELETE', '/domains/first')).status, 204);
  });

  it('creates a domain, which becomes the default, and an app, showing progress', async () => {
    assert.equal((await gearshift(['domains', 'create', 'tour'])).code, 0);
    const r = await gearshift(['apps', 'create', 'shop', '-c', 'nodejs-18', '-c', 'postgresql-15', '-e', 'GREETING=hi']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /· creating gear postgresql-15/);
    assert.match(r.stderr, /✔ app\.create succeeded in [\d.]+ s/);
    assert.match(r.stdout, /^shop \(tour\)\s+running/m);
    assert.match(r.stdout, /nodejs-18\s+\S+\s+running\s+http:\/\/127\.0\.0\.1:\d+/);
  });

  it('lists apps in a table for people and as JSON for scripts', async () => {
    const list = await gearshift(['apps', 'list']);
    assert.match(list.stdout, /^NAME\s+STATUS\s+CARTRIDGES\s+SCALE\s+URL$/m);
    assert.match(list.stdout, /^shop\s+running\s+nodejs-18,postgresql-15\s+1\s+http:\/\/shop-tour\.localhost/m);
    const json = await gearshift(['--json', 'apps', 'show', 'shop']);
    const app = JSON.parse(json.stdout);
    assert.equal(app.status, 'running');
    const page = await getJson(app.gears.find((g: { cartridge: string }) => g.cartridge === 'nodejs-18').endpoints.http);
    assert.equal(page?.body.database.reachable, true);
  });

  it('sets and unsets environment variables, and scales', async () => {
    assert.equal((await gearshift(['env', 'set', 'shop', 'COLOUR=blue', 'SIZE=xl'])).code, 0);
    assert.equal((await gearshift(['env', 'unset', 'shop', 'SIZE'])).code, 0);
    const env = JSON.parse((await gearshift(['--json', 'env', 'list', 'shop'])).stdout);
    assert.deepEqual(env, { GREETING: 'hi', COLOUR: 'blue' });
    const scaled = await gearshift(['scale', 'shop', '2']);
    assert.equal(scaled.code, 0, scaled.stderr);
    assert.equal(JSON.parse((await gearshift(['--json', 'apps', 'show', 'shop'])).stdout).scale, 2);
  });

  it('exits with codes scripts can trust, and says what was wrong', async () => {
    const missing = await gearshift(['apps', 'show', 'nope']);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /app "nope" in domain "tour" was not found/);
    const invalid = await gearshift(['apps', 'create', 'bad', '-c', 'cobol-85']);
    assert.equal(invalid.code, 3);
    assert.match(invalid.stderr, /\/cartridges\/0: names "cobol-85", which is not in the catalogue/);
    const usage = await gearshift(['scale', 'shop']);
    assert.equal(usage.code, 2);
    const unknown = await gearshift(['frobnicate']);
    assert.equal(unknown.code, 2);
    const down = await gearshift(['--server', 'http://127.0.0.1:1', 'domains']);
    assert.equal(down.code, 4);
    assert.match(down.stderr, /cannot reach the broker/);
    const help = await gearshift(['apps', 'create', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--cartridge <name>/);
  });

  it('applies a gearshift.yml: shows the plan, asks before losing data, converges', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'repo-'));
    const file = join(dir, 'gearshift.yml');
    writeFileSync(file, 'name: blog\ncartridges: [nodejs-18, postgresql-15]\nenv: { TITLE: notes }\n');
    const dry = await gearshift(['apply', '-f', file, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /Plan for blog:\n  \+ app blog/);
    const applied = await gearshift(['apply', '-f', file]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stderr, /✔ app\.create succeeded/);
    const again = await gearshift(['apply', '-f', file]);
    assert.match(again.stdout, /blog already is what .* says/);
    writeFileSync(file, 'name: blog\ncartridges: [nodejs-18]\nenv: { TITLE: notes }\n');
    const refused = await gearshift(['apply', '-f', file]);
    assert.equal(refused.code, 3, 'no terminal to confirm on, so no data is deleted');
    assert.match(refused.stdout, /- cartridge postgresql-15 .*LOSES the data of postgresql-15/);
    const forced = await gearshift(['apply', '-f', file, '--yes']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stderr, /✔ app\.apply succeeded/);
  });

  const fixture = (name: string) => join(ROOT, 'test', 'fixtures', 'compose', name, 'compose.yaml');
  it('explains a compose file: what each service becomes and what stops it', async () => {
    const file = fixture('nginx-app-db');
    const r = await gearshift(['import', file]);
    assert.equal(r.code, 3, 'blocked files exit like a refusal');
    assert.match(r.stdout, /^SERVICE\s+BECOMES\s+PORTS\s+DEPENDS$/m);
    assert.match(r.stdout, /^proxy\s+cartridge static\s+80:80\s+app$/m);
    assert.match(r.stdout, /^app\s+container \(build \.\/app\)\s+8000\s+db \(healthy\)$/m);
    assert.match(r.stdout, /^db\s+cartridge postgresql-17\s+5432$/m);
    assert.match(r.stdout, /^  app: built from the context \.\/app \(Dockerfile\.prod\): that folder must be uploaded with the app$/m);
    assert.match(
      r.stdout,
      /^What stops it here:\n  \/services\/proxy\/volumes\/0: bind-mounts \.\/nginx\/default\.conf from the host; gears never mount the node's paths: keep the data in a named volume \(NAME:\/etc\/nginx\/conf\.d\/default\.conf\)$/m,
    );
    const json = JSON.parse((await gearshift(['--json', 'import', file])).stdout);
    assert.deepEqual(
      json.services.map((s: { service: string }) => s.service),
      ['proxy', 'app', 'db'],
    );
    assert.deepEqual(
      json.blockers.map((b: { pointer: string }) => b.pointer),
      ['/services/proxy/volumes/0'],
    );
    assert.equal(json.cartridges, null);
  });

  it('says how a compose file runs here, with the .env beside it, without creating anything', async () => {
    const names = async () => (await p.api('GET', '/domains/tour/apps')).body.map((a: { name: string }) => a.name).sort();
    const before = await names();
    const r = await gearshift(['import', fixture('notes-postgres')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^web\s+container ghcr\.io\/acme\/notes:2\.3\.1\s+3000:3000\s+db \(healthy\)$/m, 'the tag comes from .env');
    assert.match(r.stdout, /^Runs here as an app with docker-image \(ghcr\.io\/acme\/notes:2\.3\.1\), postgresql-17\.$/m);
    assert.deepEqual(await names(), before, 'without --apply nothing is created');
  });

  const outsideFile = join(ROOT, '..', 'shared', 'corpus', 'awesome-compose', 'nginx-golang-postgres', 'compose.yaml');
  // A public sample of the same shape, read too when that corpus sits beside the repository.
  if (existsSync(outsideFile)) {
    it('explains a compose file of the awesome-compose corpus', async () => {
      const r = await gearshift(['import', outsideFile]);
      assert.equal(r.code, 3, 'blocked files exit like a refusal');
      assert.match(r.stdout, /^db\s+cartridge postgresql-17\s+5432/m);
      assert.match(r.stdout, /\/services\/proxy\/volumes\/0: bind-mounts \.\/proxy\/nginx\.conf from the host/);
      const json = JSON.parse((await gearshift(['--json', 'import', outsideFile])).stdout);
      assert.equal(json.services.length, 3);
    });
  }

  it('deploys the working directory honouring .gitignore, lists releases, shows logs and rolls back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-deploy-'));
    const server = (v: string) =>
      `require('http').createServer((q, s) => { if (q.url !== '/health') console.log('hit ' + q.url); s.end('${v}'); }).listen(process.env.PORT || 8080);\n`;
    writeFileSync(join(dir, 'server.js'), server('one'));
    writeFileSync(join(dir, '.gitignore'), 'secrets.txt\n');
    writeFileSync(join(dir, 'secrets.txt'), 'do not upload\n');
    const first = await gearshift(['deploy', 'shop', dir]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /uploading 2 file\(s\)/, 'server.js and .gitignore, not secrets.txt');
    assert.match(first.stderr, /-----> release 1 is active/);
    assert.match(first.stdout, /release 1: active/);
    writeFileSync(join(dir, 'server.js'), server('two'));
    assert.equal((await gearshift(['deploy', 'shop', dir])).code, 0);
    const gear = (await p.api('GET', '/domains/tour/apps/shop')).body.gears.find((g: { cartridge: string }) => g.cartridge === 'nodejs-18');
    assert.equal(await (await fetch(gear.endpoints.http)).text(), 'two');

    const list = await gearshift(['deployments', 'shop']);
    assert.match(list.stdout, /^RELEASE\s+STATE\s+SOURCE\s+BUILT\s+CREATED\s+ERROR$/m);
    assert.match(list.stdout, /^2 \*\s+active\s+archive\s+recipe/m);
    assert.match(list.stdout, /^1\s+inactive/m);

    const logs = await gearshift(['logs', 'shop', '-n', '20']);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /^\[nodejs-18 [0-9a-f]{8}\] hit \//m);

    const back = await gearshift(['rollback', 'shop', '1']);
    assert.equal(back.code, 0, back.stderr);
    const after = (await p.api('GET', '/domains/tour/apps/shop')).body.gears.find((g: { cartridge: string }) => g.cartridge === 'nodejs-18');
    assert.equal(await (await fetch(after.endpoints.http)).text(), 'one');
    const again = await gearshift(['rollback', 'shop', '1']);
    assert.equal(again.code, 3);
    assert.match(again.stderr, /release 1 is already active/);
  });

  it('takes a snapshot to a file and restores it', async () => {
    const file = join(home, 'shop.tar.gz');
    const took = await gearshift(['snapshots', 'take', 'shop', '-o', file]);
    assert.equal(took.code, 0, took.stderr);
    assert.match(took.stdout, /Wrote .*shop\.tar\.gz \(\d+ KB\)/);
    assert.equal(statSync(file).mode & 0o777, 0o600, 'data is private');
    const back = await gearshift(['snapshots', 'restore', 'shop', file]);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /Restored postgresql-15 into shop/);
  });

  it('runs a compose app: its image becomes the web gear, postgres a managed database it reaches', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-compose-'));
    const image = `gearshift/nodejs-18:${hashFolder(join(ROOT, 'cartridges/nodejs-18'))}`;
    writeFileSync(
      join(dir, 'compose.yaml'),
      [
        'services:',
        '  web:',
        `    image: ${image}`,
        '    ports: ["8080:8080"]',
        '    environment:',
        '      GREETING: ${GREETING}',
        '      DATABASE_URL: postgres://postgres:example@db:5432/postgres',
        '    depends_on:',
        '      db: { condition: service_healthy }',
        '  db:',
        '    image: postgres:15',
        '    environment: { POSTGRES_PASSWORD: example }',
        '    volumes: [dbdata:/var/lib/postgresql/data]',
        '    healthcheck: { test: ["CMD", "pg_isready"] }',
        '  proxy:',
        '    image: nginx:1.25',
        '    ports: ["80:80"]',
        'volumes: { dbdata: {} }',
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, '.env'), 'GREETING=hello from compose\n');
    const r = await gearshift(['import', join(dir, 'compose.yaml'), '--apply', 'composed']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /Runs here as an app with docker-image \(gearshift\/nodejs-18:\w+\), postgresql-15\./);
    assert.match(r.stdout, /composed: succeeded/);
    const app = (await p.api('GET', '/domains/tour/apps/composed')).body;
    assert.deepEqual(app.cartridges, ['docker-image', 'postgresql-15']);
    const web = app.gears.find((g: { cartridge: string }) => g.cartridge === 'docker-image');
    const answer = (await (await fetch(web.endpoints.http)).json()) as { app: string; database: { reachable: boolean } };
    assert.equal(answer.database.reachable, true, "the published DATABASE_URL took the place of the file's");
    const [c] = await p.containers({ 'gearshift.app-name': 'composed', 'gearshift.cartridge': 'docker-image' });
    assert.ok((await docker.getContainer(c.Id).inspect()).Config.Env.includes('GREETING=hello from compose'), '.env interpolation');
    assert.equal((await p.api('DELETE', '/domains/tour/apps/composed?wait=60')).body.operation.state, 'succeeded');
  });

  it('lists nodes and deletes the app', async () => {
    const nodes = await gearshift(['nodes']);
    assert.match(nodes.stdout, new RegExp(`^${p.nodeName('node1')}\\s+active\\s+yes`, 'm'));
    const r = await gearshift(['apps', 'delete', 'shop']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Deleted app shop/);
    assert.equal((await p.containers({ 'gearshift.app-name': 'shop' })).length, 0);
  });
});
