import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openRouteSecret, routeSealingKey, sealRouteSecret, type AppRoute } from '@gearshift/cartridges';
import { certificateProblem, routeProblem, servableTable } from './route-check';

const route = (over: Partial<AppRoute> = {}): AppRoute => ({
  appId: 'a1b2c3d4-0000-4000-8000-000000000000',
  app: 'shop',
  domain: 'acme',
  hosts: ['shop-acme.localhost', 'www.shop.test'],
  state: 'serving',
  health: { kind: 'http', path: '/health' },
  backends: [{ gearId: 'b0000000-0000-4000-8000-000000000001', node: 'n2', host: '127.0.0.1', port: 32001 }],
  tls: [],
  ...over,
});

const noOpenssl = spawnSync('openssl', ['version']).status !== 0 && 'openssl is not installed';

function pem(names: string[], bits = 2048): string {
  const dir = mkdtempSync(join(tmpdir(), 'route-check-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-nodes',
        '-newkey',
        `rsa:${bits}`,
        '-days',
        '2',
        '-subj',
        `/CN=${names[0]}`,
        '-addext',
        `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`,
        '-keyout',
        join(dir, 'k'),
        '-out',
        join(dir, 'c'),
      ],
      { stdio: 'ignore' },
    );
    return `${readFileSync(join(dir, 'c'), 'utf8')}${readFileSync(join(dir, 'k'), 'utf8')}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('route items the router serves', () => {
  it('takes a well-formed route', () => {
    assert.equal(routeProblem(route()), null);
    assert.equal(routeProblem(route({ health: null, state: 'idle' })), null);
    assert.equal(routeProblem(route({ health: { kind: 'http', path: '/ready?full=1', status: 'any' } })), null);
    assert.equal(routeProblem(route({ service: 'admin-ui', hosts: ['admin.shop.test'] })), null);
  });

  it('refuses each item that could break or bend the configuration, saying which', () => {
    const cases: [unknown, RegExp][] = [
      [null, /not an object/],
      [route({ appId: 'x y' }), /app id/],
      [route({ app: 'Shop"' }), /app name/],
      [route({ service: 'admin ui\n  server x 1.2.3.4:80' }), /service name/],
      [route({ hosts: [] }), /no host names/],
      [route({ hosts: ['www.shop.test backend_other'] }), /host name that is not one/],
      [route({ hosts: ['www.shop.test\nevil.test app_other'] }), /host name that is not one/],
      [route({ state: 'weird' as 'idle' }), /unknown state/],
      [route({ health: { kind: 'http', path: '/ok\n  server x 1.2.3.4:80' } }), /health check path/],
      [route({ health: { kind: 'http', path: '/', status: 1000 } }), /status/],
      [route({ backends: [{ gearId: 'b1', node: 'n', host: '1.2.3.4 check', port: 80 }] }), /valid address and port/],
      [route({ backends: [{ gearId: 'b1', node: 'n', host: '1.2.3.4', port: 70000 }] }), /valid address and port/],
      [{ ...route(), tls: 'x' }, /list of certificates/],
    ];
    for (const [r, why] of cases) assert.match(routeProblem(r) ?? 'null', why, JSON.stringify(r));
  });

  it('refuses a certificate for a host that is not the app’s, or not a pair', () => {
    assert.match(certificateProblem({ host: 'other.test', pem: 'x' }, ['www.shop.test'], Date.now())!, /not a host name of the app/);
    assert.match(certificateProblem({ host: 'www.shop.test', pem: 'x' }, ['www.shop.test'], Date.now())!, /required|PEM/);
    assert.match(certificateProblem({ host: 'www.shop.test' }, ['www.shop.test'], Date.now())!, /not a host and a PEM/);
  });

  it('checks a certificate as the broker does: strength, host, date', { skip: noOpenssl }, () => {
    const now = Date.now();
    assert.equal(certificateProblem({ host: 'www.shop.test', pem: pem(['www.shop.test', '*.localhost']) }, ['www.shop.test'], now), null);
    assert.match(certificateProblem({ host: 'www.shop.test', pem: pem(['www.shop.test'], 1024) }, ['www.shop.test'], now)!, /1024 bits/);
    assert.match(certificateProblem({ host: 'www.shop.test', pem: pem(['other.test']) }, ['www.shop.test'], now)!, /does not cover/);
    assert.match(certificateProblem({ host: 'www.shop.test', pem: pem(['www.shop.test']) }, ['www.shop.test'], now + 5 * 86_400_000)!, /expired/);
  });

  it('serves the rest of a table when one app or one certificate is bad, and says what it left out', () => {
    const bad = route({ appId: 'ffffffff-0000-4000-8000-000000000000', app: 'blog', hosts: ['blog-acme.localhost', 'bad host'] });
    const badCert = route({
      appId: 'eeeeeeee-0000-4000-8000-000000000000',
      app: 'wiki',
      hosts: ['wiki-acme.localhost', 'wiki.test'],
      tls: [{ host: 'wiki.test', pem: 'not a pem' }],
    });
    const { table, skipped } = servableTable({ version: 7, apps: [route(), bad, badCert] });
    assert.equal(table.version, 7);
    assert.deepEqual(
      table.apps.map((a) => a.app),
      ['shop', 'wiki'],
      'the bad app alone is left out',
    );
    assert.deepEqual(table.apps[1].tls, [], "the bad certificate is left out, its app's routes are kept");
    assert.deepEqual(table.apps[1].hosts, ['wiki-acme.localhost', 'wiki.test']);
    assert.equal(skipped.length, 2);
    assert.match(skipped[0].item, /app blog-acme/);
    assert.match(skipped[1].item, /certificate of wiki\.test/);
  });

  it('serves a host two apps claim for the first only', () => {
    const second = route({ appId: 'ffffffff-0000-4000-8000-000000000000', app: 'blog', hosts: ['blog-acme.localhost', 'www.shop.test'] });
    const { table, skipped } = servableTable({ version: 1, apps: [route(), second] });
    assert.deepEqual(table.apps[1].hosts, ['blog-acme.localhost']);
    assert.match(skipped[0].item, /host www\.shop\.test of app blog-acme/);
  });

  it('opens sealed certificates in memory, and leaves out one that does not open, with why', { skip: noOpenssl }, () => {
    const key = routeSealingKey(randomBytes(32));
    const good = pem(['www.shop.test']);
    const sealed = route({ tls: [{ host: 'www.shop.test', pem: sealRouteSecret(key, good) }] });
    const { table, skipped } = servableTable({ version: 3, apps: [sealed] }, Date.now(), (p) => openRouteSecret(key, p));
    assert.deepEqual(skipped, []);
    assert.equal(table.apps[0].tls[0].pem, good);

    const foreign = route({ tls: [{ host: 'www.shop.test', pem: sealRouteSecret(routeSealingKey(randomBytes(32)), good) }] });
    const refused = servableTable({ version: 4, apps: [foreign] }, Date.now(), (p) => openRouteSecret(key, p));
    assert.deepEqual(refused.table.apps[0].tls, []);
    assert.match(refused.skipped[0].reason, /does not open with this platform's secret key/);
  });

  it('refuses a table that is not one', () => {
    assert.throws(() => servableTable({ apps: 'x' }), /not a table/);
    assert.throws(() => servableTable(null), /not a table/);
  });
});
