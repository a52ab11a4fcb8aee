import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { loadCatalog, parseManifest } from './manifest';
import { gearSecurity, RESTRICTED_SECURITY } from './security';
import { SchemaViolationError } from './validation';

const ROOT = resolve(__dirname, '../../../..');

const base = `
name: demo-db
display-name: Demo DB
version: "1"
categories: [service, database]
image: { build: . }
endpoints:
  - { name: db, port: 5432, protocol: tcp }
volumes:
  - { name: data, path: /var/lib/demo }
`;

function violations(text: string) {
  try {
    parseManifest(text, 'manifest.yml');
  } catch (err) {
    assert.ok(err instanceof SchemaViolationError, String(err));
    return err.violations.map((v) => `${v.pointer} ${v.rule}`);
  }
  assert.fail('the manifest was accepted');
}

describe('the security section of a cartridge manifest', () => {
  it('is optional: a cartridge that declares nothing gets no capabilities and a writable root', () => {
    const m = parseManifest(base, 'm.yml');
    assert.equal(m.security, undefined);
    assert.deepEqual(gearSecurity(m.security), { capabilities: [], readOnlyRootFilesystem: false, tmpfs: [] });
    assert.deepEqual(gearSecurity(m.security), RESTRICTED_SECURITY);
  });

  it('gives the capabilities (in a stable order), the read-only root and the tmpfs mounts it declares', () => {
    const m = parseManifest(`${base}security:\n  capabilities: [SETUID, CHOWN]\n  read-only-root-filesystem: true\n  tmpfs: [/run/demo, /tmp]\n`, 'm.yml');
    assert.deepEqual(gearSecurity(m.security), { capabilities: ['CHOWN', 'SETUID'], readOnlyRootFilesystem: true, tmpfs: ['/run/demo', '/tmp'] });
  });

  it('refuses an unknown capability, a repeated one, a relative or odd tmpfs path and unknown fields', () => {
    assert.deepEqual(violations(`${base}security: { capabilities: [CAP_CHOWN] }\n`), ['/security/capabilities/0 enum']);
    assert.deepEqual(violations(`${base}security: { capabilities: [CHOWN, CHOWN] }\n`), ['/security/capabilities uniqueItems']);
    assert.deepEqual(violations(`${base}security: { tmpfs: [tmp] }\n`), ['/security/tmpfs/0 pattern']);
    assert.deepEqual(violations(`${base}security: { tmpfs: ["/"] }\n`), ['/security/tmpfs/0 pattern']);
    assert.deepEqual(violations(`${base}security: { tmpfs: ["/tmp,exec"] }\n`), ['/security/tmpfs/0 pattern']);
    assert.deepEqual(violations(`${base}security: { privileged: true }\n`), ['/security/privileged additionalProperties']);
    assert.deepEqual(violations(`${base}security: { read-only-root-filesystem: "yes" }\n`), ['/security/read-only-root-filesystem type']);
  });

  it('refuses a tmpfs over, under or on a volume: the data would vanish at the next start', () => {
    assert.deepEqual(violations(`${base}security: { tmpfs: [/var/lib/demo] }\n`), ['/security/tmpfs/0 volume']);
    assert.deepEqual(violations(`${base}security: { tmpfs: [/tmp, /var/lib/demo/run] }\n`), ['/security/tmpfs/1 volume']);
    assert.deepEqual(violations(`${base}security: { tmpfs: [/var/lib] }\n`), ['/security/tmpfs/0 volume']);
    assert.doesNotThrow(() => parseManifest(`${base}security: { tmpfs: [/var/lib/demo2] }\n`, 'm.yml'));
  });

  it('is declared by every shipped cartridge but docker-image, whose named images get the restricted default', () => {
    const catalog = loadCatalog(join(ROOT, 'cartridges'));
    for (const c of catalog.values()) {
      if (c.manifest.name === 'docker-image') assert.equal(c.manifest.security, undefined);
      else assert.ok(c.manifest.security, `${c.manifest.name} declares its security`);
    }
    // Runtimes and services run as their image's own user: none of them keeps a capability.
    for (const name of ['nodejs-18', 'python-3.11', 'php-8.2', 'ruby-3.1', 'openjdk-17', 'static', 'postgresql-15', 'mariadb-10.11', 'redis-7']) {
      assert.deepEqual(gearSecurity(catalog.get(name)!.manifest.security).capabilities, [], name);
    }
    assert.equal(gearSecurity(catalog.get('postgresql-15')!.manifest.security).readOnlyRootFilesystem, true);
  });
});
