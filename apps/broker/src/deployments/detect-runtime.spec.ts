import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { loadCatalog, type Cartridge } from '@gearshift/cartridges';
import { detectRuntime } from './detect-runtime';

const catalog = loadCatalog(join(resolve(__dirname, '../../../../..'), 'cartridges'));

describe('runtime detection', () => {
  const detect = (...paths: string[]) => {
    const d = detectRuntime(paths, catalog);
    return d ? `${d.cartridge.manifest.name} ${d.because}` : null;
  };

  it('knows each runtime by the file its developers commit', () => {
    assert.equal(detect('package.json', 'index.js'), 'nodejs-24 package.json');
    assert.equal(detect('index.php', '.htaccess'), 'php-8.4 index.php');
    assert.equal(detect('composer.json', 'public/index.php'), 'php-8.4 composer.json');
    assert.equal(detect('requirements.txt', 'app.py'), 'python-3.13 requirements.txt');
    assert.equal(detect('pyproject.toml', 'app.py'), 'python-3.13 pyproject.toml');
    assert.equal(detect('Gemfile', 'config.ru'), 'ruby-3.3 Gemfile');
    assert.equal(detect('pom.xml', 'src/main/java/App.java'), 'openjdk-21 pom.xml');
    assert.equal(detect('app.jar'), 'openjdk-21 app.jar');
    assert.equal(detect('index.html', 'style.css'), 'static index.html');
  });

  it('prefers the runtime over the files it serves, and PHP over its asset tooling', () => {
    assert.equal(detect('index.html', 'package.json', 'server.js'), 'nodejs-24 package.json');
    assert.equal(detect('package.json', 'composer.json', 'index.php'), 'php-8.4 composer.json');
    assert.equal(detect('public/index.html', 'app.py', 'pyproject.toml'), 'python-3.13 pyproject.toml');
  });

  it('looks only at the root of the tree', () => {
    assert.equal(detect('docs/index.html', 'web/package.json', 'lib/x.jar'), null);
    assert.equal(detect('README.md'), null);
  });

  it('picks the newest current version the catalogue has', () => {
    const node = catalog.get('nodejs-24')!;
    const newer: Cartridge = { ...node, manifest: { ...node.manifest, name: 'nodejs-30', version: '30' } };
    const older: Cartridge = { ...node, manifest: { ...node.manifest, name: 'nodejs-9', version: '9' } };
    const two = new Map([...catalog, ['nodejs-9', older], ['nodejs-30', newer]]);
    assert.equal(detectRuntime(['package.json'], two)?.cartridge.manifest.name, 'nodejs-30');
    // A newer version the catalogue marks deprecated is not what new code gets.
    const retired: Cartridge = { ...node, manifest: { ...node.manifest, name: 'nodejs-30', version: '30', status: 'deprecated' } };
    assert.equal(detectRuntime(['package.json'], new Map([...catalog, ['nodejs-30', retired]]))?.cartridge.manifest.name, 'nodejs-24');
  });
});
