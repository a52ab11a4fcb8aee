import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadCatalog, parseManifest, type Cartridge } from './manifest';
import {
  cartridgeFamily,
  deprecationWarning,
  familyMembers,
  lifecycleOf,
  newestOf,
  resolveCartridge,
  resolveCartridgeName,
  upgradeProblem,
  upgradesTo,
} from './runtimes';
import { SchemaViolationError } from './validation';

const ROOT = resolve(__dirname, '../../../..');
const catalog = loadCatalog(join(ROOT, 'cartridges'));

const fake = (name: string, version: string, status?: 'current' | 'deprecated'): Cartridge => {
  const base = catalog.get('nodejs-24')!;
  return { ...base, manifest: { ...base.manifest, name, version, ...(status ? { status } : {}) } };
};

describe('runtime versions side by side', () => {
  it('knows a family by the name without its version', () => {
    assert.equal(cartridgeFamily('nodejs-24'), 'nodejs');
    assert.equal(cartridgeFamily('mariadb-10.11'), 'mariadb');
    assert.equal(cartridgeFamily('postgresql-17'), 'postgresql');
    assert.equal(cartridgeFamily('docker-image'), null);
    assert.equal(cartridgeFamily('static'), null);
  });

  it('gives a bare family the newest current cartridge, and a full name itself', () => {
    assert.equal(resolveCartridgeName('nodejs', catalog), 'nodejs-24');
    assert.equal(resolveCartridgeName('python', catalog), 'python-3.13');
    assert.equal(resolveCartridgeName('postgresql', catalog), 'postgresql-17');
    assert.equal(resolveCartridgeName('valkey', catalog), 'valkey-8');
    assert.equal(resolveCartridgeName('redis', catalog), 'redis-7');
    assert.equal(resolveCartridgeName('php', catalog), 'php-8.4');
    assert.equal(resolveCartridgeName('mariadb', catalog), 'mariadb-11.8');
    assert.equal(resolveCartridgeName('ruby', catalog), 'ruby-3.3');
    assert.equal(resolveCartridgeName('openjdk', catalog), 'openjdk-21');
    assert.equal(resolveCartridgeName('nodejs-18', catalog), 'nodejs-18');
    assert.equal(resolveCartridgeName('nodejs-22', catalog), 'nodejs-22');
    assert.equal(resolveCartridgeName('static', catalog), 'static');
    assert.equal(resolveCartridgeName('cobol', catalog), 'cobol');
    assert.equal(resolveCartridge('cobol', catalog), undefined);
    assert.equal(resolveCartridge('nodejs', catalog)?.alias, 'nodejs');
    assert.equal(resolveCartridge('nodejs-24', catalog)?.alias, undefined);
  });

  it('orders versions as numbers, and passes over deprecated ones while a current one exists', () => {
    const more = new Map([...catalog, ['nodejs-100', fake('nodejs-100', '100', 'deprecated')], ['nodejs-9', fake('nodejs-9', '9')]]);
    assert.deepEqual(
      familyMembers('nodejs', more).map((c) => c.manifest.name),
      ['nodejs-9', 'nodejs-18', 'nodejs-22', 'nodejs-24', 'nodejs-100'],
    );
    assert.equal(newestOf('nodejs', more)?.manifest.name, 'nodejs-24');
    // Every version deprecated: the newest still serves a bare name (with its warning).
    const old = new Map([['ruby-3.1', catalog.get('ruby-3.1')!]]);
    assert.equal(resolveCartridge('ruby', old)?.cartridge.manifest.name, 'ruby-3.1');
    assert.match(resolveCartridge('ruby', old)?.warning ?? '', /ruby-3\.1 is deprecated .*end of life 2025-03-31/);
  });

  it('warns about a deprecated cartridge, naming its end of life and what is current', () => {
    assert.equal(deprecationWarning(catalog.get('nodejs-18')!, catalog), 'nodejs-18 is deprecated (Node.js 18, end of life 2025-04-30); nodejs-24 is current');
    assert.equal(resolveCartridge('nodejs-18', catalog)?.warning, deprecationWarning(catalog.get('nodejs-18')!, catalog));
    assert.equal(deprecationWarning(catalog.get('nodejs-24')!, catalog), undefined);
    assert.equal(resolveCartridge('nodejs', catalog)?.warning, undefined);
  });

  it('reads the lifecycle fields of the catalogue', () => {
    assert.deepEqual(lifecycleOf(catalog.get('nodejs-18')!.manifest), { version: '18', status: 'deprecated', endOfLife: '2025-04-30' });
    assert.deepEqual(lifecycleOf(catalog.get('ruby-3.1')!.manifest), { version: '3.1', status: 'deprecated', endOfLife: '2025-03-31' });
    assert.deepEqual(lifecycleOf(catalog.get('php-8.2')!.manifest), { version: '8.2', status: 'deprecated', endOfLife: '2026-12-31' });
    assert.equal(lifecycleOf(catalog.get('nodejs-24')!.manifest).status, 'current');
    // Absent: current, no date.
    assert.deepEqual(lifecycleOf(catalog.get('static')!.manifest), { version: catalog.get('static')!.manifest.version, status: 'current', endOfLife: null });
  });
});

describe('manifest fields for versions and bases', () => {
  const manifest = (extra: string) => `name: demo-1\ndisplay-name: Demo\nversion: "1"\ncategories: [service]\nimage: { build: . }\nendpoints: []\n${extra}`;
  const violations = (text: string) => {
    try {
      parseManifest(text, 'manifest.yml');
    } catch (err) {
      assert.ok(err instanceof SchemaViolationError, String(err));
      return err.violations.map((v) => `${v.pointer} ${v.rule}`);
    }
    return [];
  };

  it('takes a status, an end-of-life date and a base, and refuses other values', () => {
    assert.deepEqual(violations(manifest('status: deprecated\nend-of-life: "2025-04-30"\nbase: trixie\n')), []);
    assert.deepEqual(violations(manifest('status: retired\n')), ['/status enum']);
    assert.deepEqual(violations(manifest('end-of-life: "April 2025"\n')), ['/end-of-life pattern']);
    assert.deepEqual(violations(manifest('end-of-life: "2025-13-01"\n')), ['/end-of-life pattern']);
    assert.deepEqual(violations(manifest('base: buster\n')), ['/base enum']);
  });

  it("builds each cartridge FROM the base its manifest names, through the agent's build argument", () => {
    for (const c of catalog.values()) {
      const dockerfile = join(c.dir, 'Dockerfile');
      if (!c.manifest.image.build || !existsSync(dockerfile)) continue;
      const text = readFileSync(dockerfile, 'utf8');
      const arg = (c.manifest.base ?? 'bookworm') === 'trixie' ? 'BASE_IMAGE_TRIXIE' : 'BASE_IMAGE';
      const froms = [...text.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
      assert.ok(froms.length > 0, c.manifest.name);
      for (const from of froms) assert.equal(from, `\${${arg}}`, `${c.manifest.name}: FROM ${from}`);
      assert.match(text, new RegExp(`^ARG ${arg}=gearshift/base:${c.manifest.base ?? 'bookworm'}$`, 'm'), c.manifest.name);
    }
  });

  it('pins the Node.js of each nodejs cartridge on trixie with its integrity, and states that version', () => {
    for (const name of ['nodejs-22', 'nodejs-24']) {
      const c = catalog.get(name)!;
      const text = readFileSync(join(c.dir, 'Dockerfile'), 'utf8');
      assert.match(text, new RegExp(`^ARG NODE_VERSION=${c.manifest.version.replace(/\./g, '\\.')}$`, 'm'));
      assert.match(text, /^ARG NODE_INTEGRITY=sha512-[A-Za-z0-9+/]{86}==$/m);
      assert.match(text, /^ARG NPM_INTEGRITY=sha512-[A-Za-z0-9+/]{86}==$/m);
      assert.match(text, /verify-integrity \/fetch\/node\.tgz "\$NODE_INTEGRITY"/);
      assert.ok(c.manifest.version.startsWith(name.slice('nodejs-'.length)));
    }
  });
});

describe('database upgrades that keep the data', () => {
  it('moves each old database to its successor only', () => {
    assert.deepEqual(upgradesTo('postgresql-15', catalog), ['postgresql-17']);
    assert.deepEqual(upgradesTo('mariadb-10.11', catalog), ['mariadb-11.8']);
    assert.deepEqual(upgradesTo('redis-7', catalog), ['valkey-8']);
    assert.deepEqual(upgradesTo('postgresql-17', catalog), []);
    assert.deepEqual(upgradesTo('nodejs-18', catalog), []);
    assert.equal(upgradeProblem('postgresql-15', 'postgresql-17', catalog), null);
    assert.equal(upgradeProblem('redis-7', 'valkey-8', catalog), null);
  });

  it('says why any other move is refused', () => {
    assert.equal(
      upgradeProblem('postgresql-17', 'postgresql-15', catalog),
      'postgresql-17 cannot be upgraded to postgresql-15; no cartridge takes over its data',
    );
    assert.equal(upgradeProblem('postgresql-15', 'mariadb-11.8', catalog), 'postgresql-15 cannot be upgraded to mariadb-11.8; it can move to postgresql-17');
    assert.equal(upgradeProblem('postgresql-15', 'postgresql-99', catalog), 'postgresql-99 is not in the catalogue');
    assert.equal(upgradeProblem('postgresql-15', 'postgresql-15', catalog), 'the app already runs postgresql-15');
  });

  it('names only newer versions of the same family, or a drop-in with the same way of taking its data', () => {
    for (const c of catalog.values()) {
      for (const from of c.manifest['upgrades-from'] ?? []) {
        const old = catalog.get(from);
        assert.ok(old, `${c.manifest.name} upgrades from ${from}, which is not in the catalogue`);
        assert.ok(c.manifest.snapshot && old.manifest.snapshot, `${from} → ${c.manifest.name} needs a snapshot on both sides`);
        if (cartridgeFamily(from) === cartridgeFamily(c.manifest.name))
          assert.ok(old.manifest.version.localeCompare(c.manifest.version, undefined, { numeric: true }) < 0, `${from} → ${c.manifest.name} goes back`);
      }
    }
  });
});
