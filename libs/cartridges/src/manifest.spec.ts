import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hashFolder, loadCatalog, parseManifest, renderTemplate } from './manifest';
import { SchemaViolationError } from './validation';

const ROOT = resolve(__dirname, '../../../..');

const valid = `
name: demo-db
display-name: Demo DB
version: "1"
categories: [service, database]
image: { build: . }
endpoints:
  - { name: db, port: 5432, protocol: tcp, health: { tcp: true } }
env:
  - { name: USER, generate: username }
  - { name: NAME, value: "{{app.name}}" }
publishes:
  - { name: DB_URL, value: "db://{{env.USER}}@{{endpoint.db.host}}:{{endpoint.db.port}}/{{env.NAME}}" }
`;

function violations(text: string, folder?: string) {
  try {
    parseManifest(text, 'manifest.yml', folder);
  } catch (err) {
    assert.ok(err instanceof SchemaViolationError, String(err));
    return err.violations.map((v) => `${v.pointer} ${v.rule}`);
  }
  assert.fail('the manifest was accepted');
}

describe('cartridge manifests', () => {
  it('accepts every cartridge shipped in cartridges/', () => {
    const catalog = loadCatalog(join(ROOT, 'cartridges'));
    assert.ok(catalog.has('nodejs-18'));
    assert.ok(catalog.has('postgresql-15'));
    for (const c of catalog.values()) assert.match(c.hash, /^[0-9a-f]{16}$/);
  });

  it('accepts a valid manifest', () => {
    assert.equal(parseManifest(valid, 'm.yml').name, 'demo-db');
  });

  it('names the field and the rule of each violation', () => {
    assert.deepEqual(violations(valid.replace('protocol: tcp', 'protocol: udp')), ['/endpoints/0/protocol enum']);
    assert.deepEqual(violations(valid.replace('name: demo-db', 'name: Demo DB')), ['/name pattern']);
    assert.deepEqual(violations(`${valid}\nsurprise: true\n`), ['/surprise additionalProperties']);
    assert.deepEqual(violations(valid.replace('version: "1"\n', '')), ['/version required']);
  });

  it('reports several violations at once', () => {
    const v = violations(valid.replace('protocol: tcp', 'protocol: udp').replace('version: "1"\n', ''));
    assert.deepEqual(v.sort(), ['/endpoints/0/protocol enum', '/version required']);
  });

  it('refuses templates that refer to what the manifest does not define', () => {
    assert.deepEqual(violations(valid.replace('{{env.USER}}', '{{env.NOPE}}')), ['/publishes/0/value template']);
    assert.deepEqual(violations(valid.replace('{{endpoint.db.host}}', '{{endpoint.web.host}}')), ['/publishes/0/value template']);
  });

  it('needs a public http endpoint on a web cartridge, and one gear for services', () => {
    assert.deepEqual(violations(valid.replace('categories: [service, database]', 'categories: [web]')), ['/endpoints web']);
    assert.deepEqual(violations(`${valid}scaling: { min: 1, max: 3 }\n`), ['/scaling/max range']);
  });

  it('lets an http health check accept one status or any answer, and keeps its path quotable', () => {
    const web = (health: string) =>
      valid
        .replace('categories: [service, database]', 'categories: [web]')
        .replace('{ name: db, port: 5432, protocol: tcp, health: { tcp: true } }', `{ name: db, port: 8080, protocol: http, public: true, health: ${health} }`);
    assert.deepEqual(parseManifest(web('{ http: { path: /, status: any } }'), 'm.yml').endpoints[0].health, { http: { path: '/', status: 'any' } });
    assert.deepEqual(parseManifest(web('{ http: { path: /ready, status: 204 } }'), 'm.yml').endpoints[0].health, { http: { path: '/ready', status: 204 } });
    assert.ok(violations(web('{ http: { path: /, status: some } }')).every((v) => v.startsWith('/endpoints/0/health/http/status')));
    assert.ok(violations(web('{ http: { path: /, status: 700 } }')).every((v) => v.startsWith('/endpoints/0/health/http/status')));
    assert.deepEqual(violations(web('{ http: { path: "/a b" } }')), ['/endpoints/0/health/http/path pattern']);
  });

  it('says when a manifest is not YAML, or not in its own folder', () => {
    assert.deepEqual(violations('name: [unclosed'), [' yaml']);
    assert.deepEqual(violations(valid, 'other-name'), ['/name folder']);
  });

  it('stops the catalogue at a broken manifest, naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'catalog-'));
    mkdirSync(join(dir, 'demo-db'));
    writeFileSync(join(dir, 'demo-db', 'manifest.yml'), valid.replace('protocol: tcp', 'protocol: udp'));
    assert.throws(
      () => loadCatalog(dir),
      (err: Error) => err.message.includes(join(dir, 'demo-db', 'manifest.yml')) && err.message.includes('/endpoints/0/protocol'),
    );
  });

  it('renders templates from env, endpoints, app and domain', () => {
    const out = renderTemplate('{{env.U}}@{{endpoint.db.host}}:{{endpoint.db.port}}/{{app.name}}.{{domain.name}}', {
      env: { U: 'bob' },
      endpoint: { db: { host: 'pg', port: 5432 } },
      app: { name: 'shop' },
      domain: { name: 'acme' },
    });
    assert.equal(out, 'bob@pg:5432/shop.acme');
  });

  it('hashes a folder by names, modes and contents', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hash-'));
    writeFileSync(join(dir, 'a'), 'one');
    const h1 = hashFolder(dir);
    assert.equal(hashFolder(dir), h1);
    writeFileSync(join(dir, 'a'), 'two');
    assert.notEqual(hashFolder(dir), h1);
  });
});
