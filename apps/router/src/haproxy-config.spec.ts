import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppRoute, RouteTable } from '@gearshift/cartridges';
import { renderHaproxy, UNAVAILABLE_PAGE, UNKNOWN_HOST_PAGE } from './haproxy-config';

const route = (over: Partial<AppRoute> = {}): AppRoute => ({
  appId: 'a1b2c3d4-0000-4000-8000-000000000000',
  app: 'shop',
  domain: 'acme',
  hosts: ['shop-acme.localhost', 'www.shop.test'],
  state: 'serving',
  health: { kind: 'http', path: '/health' },
  backends: [
    { gearId: 'b0000000-0000-4000-8000-000000000001', node: 'n2', host: '127.0.0.1', port: 32001 },
    { gearId: 'b0000000-0000-4000-8000-000000000002', node: 'n3', host: '127.0.0.1', port: 32002 },
  ],
  tls: [],
  ...over,
});

const opts = (runDir: string) => ({ runDir, bind: '127.0.0.1', port: 18000, tlsPort: 18443, wakerPort: 18001, maxConnections: 1000, node: 'n1' });

describe('renderHaproxy', () => {
  it('names the configuration in its global section when asked, and only then', () => {
    const named = renderHaproxy({ version: 1, apps: [route()] }, { ...opts('/run/gs'), description: 'gearshift-0123456789abcdef' });
    assert.match(named.config, /^global\n  master-worker\n  description gearshift-0123456789abcdef\n/);
    assert.doesNotMatch(renderHaproxy({ version: 1, apps: [route()] }, opts('/run/gs')).config, /description/);
  });

  it('maps every host of an app to its backend, with a health-checked server per gear', () => {
    const out = renderHaproxy({ version: 1, apps: [route()] }, opts('/run/gs'));
    assert.equal(out.hostsMap, 'shop-acme.localhost app_a1b2c3d4000040008000000000000000\nwww.shop.test app_a1b2c3d4000040008000000000000000\n');
    assert.match(
      out.config,
      /backend app_a1b2c3d4000040008000000000000000\n  balance roundrobin\n  option httpchk GET \/health\n  default-server inter 1s fall 2 rise 1 observe layer4 error-limit 1 on-error mark-down\n/,
    );
    assert.match(
      out.config,
      /server gear_b0000000000040008000000000000001 127\.0\.0\.1:32001 check\n  server gear_b0000000000040008000000000000002 127\.0\.0\.1:32002 check\n/,
    );
    assert.doesNotMatch(out.config, /:18443/, 'no TLS listener without a certificate');
  });

  it("gives a web service's own host names a backend of their own, beside the app's", () => {
    const admin = route({
      service: 'admin-ui',
      hosts: ['admin.shop.test'],
      backends: [{ gearId: 'b0000000-0000-4000-8000-000000000009', node: 'n2', host: '127.0.0.1', port: 32009 }],
    });
    const out = renderHaproxy({ version: 1, apps: [route(), admin] }, opts('/run/gs'));
    assert.match(out.hostsMap, /^admin\.shop\.test app_a1b2c3d4000040008000000000000000_svc_admin_ui$/m);
    assert.match(out.hostsMap, /^www\.shop\.test app_a1b2c3d4000040008000000000000000$/m);
    assert.match(
      out.config,
      /backend app_a1b2c3d4000040008000000000000000_svc_admin_ui\n(.*\n){3}  server gear_b0000000000040008000000000000009 127\.0\.0\.1:32009 check\n/,
    );
  });

  it("reaches gears of its own node at their own addresses, and other nodes' at their published ports", () => {
    const backends = [
      { gearId: 'b0000000-0000-4000-8000-000000000001', node: 'n1', host: '10.0.0.1', port: 32001, inside: { host: '172.18.0.5', port: 8080 } },
      { gearId: 'b0000000-0000-4000-8000-000000000002', node: 'n2', host: '10.0.0.2', port: 32002, inside: { host: '172.18.0.5', port: 8080 } },
      { gearId: 'b0000000-0000-4000-8000-000000000003', node: 'n1', host: '10.0.0.1', port: 32003 },
    ];
    const out = renderHaproxy({ version: 1, apps: [route({ backends })] }, opts('/run/gs'));
    assert.match(out.config, /server gear_b0000000000040008000000000000001 172\.18\.0\.5:8080 check\n/);
    assert.match(out.config, /server gear_b0000000000040008000000000000002 10\.0\.0\.2:32002 check\n/);
    assert.match(out.config, /server gear_b0000000000040008000000000000003 10\.0\.0\.1:32003 check\n/, 'not yet reported: its published port');
  });

  it("checks the connection when any answer counts, and exactly the app's status when it names one", () => {
    const any = renderHaproxy({ version: 1, apps: [route({ health: { kind: 'http', path: '/', status: 'any' } })] }, opts('/run/gs')).config;
    assert.doesNotMatch(any, /httpchk/, "any answer: the connection is checked, the app's root is not requested every second");
    assert.match(any, /  balance roundrobin\n  default-server inter 1s .*\n  server gear_b0000000000040008000000000000001 127\.0\.0\.1:32001 check\n/);
    const exact = renderHaproxy({ version: 1, apps: [route({ health: { kind: 'http', path: '/ready', status: 200 } })] }, opts('/run/gs')).config;
    assert.match(exact, /  option httpchk GET \/ready\n  http-check expect status 200\n  default-server /);
    const below400 = renderHaproxy({ version: 1, apps: [route()] }, opts('/run/gs')).config;
    assert.doesNotMatch(below400, /http-check expect/, "HAProxy's own default: 2xx and 3xx");
  });

  it('checks only the connection of a gear whose health check is TCP, and nothing without a check', () => {
    const tcp = renderHaproxy({ version: 1, apps: [route({ health: { kind: 'tcp' } })] }, opts('/run/gs')).config;
    assert.doesNotMatch(tcp, /httpchk/);
    assert.match(tcp, /  default-server inter 1s .*\n  server gear_b0000000000040008000000000000001 127\.0\.0\.1:32001 check\n/);
    const none = renderHaproxy({ version: 1, apps: [route({ health: null })] }, opts('/run/gs')).config;
    assert.match(none, /  balance roundrobin\n  server gear_b0000000000040008000000000000001 127\.0\.0\.1:32001\n/);
  });

  it('sends a stopped app to a 503 page that says so', () => {
    const out = renderHaproxy({ version: 1, apps: [route({ state: 'stopped', backends: [] })] }, opts('/run/gs'));
    assert.match(out.hostsMap, /shop-acme\.localhost app_a1b2c3d4000040008000000000000000_stopped/);
    assert.match(out.config, /http-request return status 503 .*shop is stopped/);
  });

  it('says on the page of an app whose first deployment failed why, with nothing of the reason able to escape', () => {
    const failure = 'release 1 was rolled back: gear nodejs-18 ab12cd34 nothing listened on 8080 within 60 s "%[src]" <script>\\';
    const out = renderHaproxy({ version: 1, apps: [route({ state: 'stopped', backends: [], failure })] }, opts('/run/gs'));
    const line = out.config.split('\n').find((l) => l.includes('http-request return status 503'))!;
    assert.match(
      line,
      /The deployment of shop failed<\/h1><p>release 1 was rolled back: gear nodejs-18 ab12cd34 nothing listened on 8080 within 60 s src script<\/p>/,
    );
    assert.doesNotMatch(line, /is stopped/);
    assert.equal(line.split('"').length - 1, 4, 'only the quotes of the content type and of the page');
  });

  it('sends an idle app to the waker', () => {
    const out = renderHaproxy({ version: 1, apps: [route({ state: 'idle', backends: [] })] }, opts('/run/gs'));
    assert.match(out.config, /backend app_a1b2c3d4000040008000000000000000\n  timeout server 120s\n  server waker 127\.0\.0\.1:18001\n/);
  });

  it('listens for TLS only when there is a certificate, and writes it', () => {
    const out = renderHaproxy({ version: 1, apps: [route({ tls: [{ host: 'www.shop.test', pem: 'PEM' }] })] }, opts('/run/gs'));
    assert.match(out.config, /bind 127\.0\.0\.1:18443 ssl crt-list \/run\/gs\/certs\.list strict-sni alpn http\/1\.1/);
    assert.deepEqual(Object.values(out.certificates), ['PEM']);
  });

  it('serves each alias certificate only for the host it was uploaded for, never by the names it lists', () => {
    const out = renderHaproxy(
      {
        version: 1,
        apps: [
          route({ tls: [{ host: 'www.shop.test', pem: 'SHOP' }] }),
          route({
            appId: 'ffffffff-0000-4000-8000-000000000000',
            app: 'blog',
            hosts: ['blog-acme.localhost', 'blog.test'],
            tls: [{ host: 'blog.test', pem: 'BLOG' }],
          }),
        ],
      },
      { ...opts('/run/gs'), defaultCertificate: '/etc/gs/apps.pem' },
    );
    const lines = out.crtList.trimEnd().split('\n');
    assert.equal(lines.length, 2);
    const byHost = new Map(lines.map((l) => [l.split(' ')[1], l.split(' ')[0]] as const));
    for (const [host, pem] of [
      ['www.shop.test', 'SHOP'],
      ['blog.test', 'BLOG'],
    ]) {
      const line = lines.find((l) => l.endsWith(` ${host}`))!;
      assert.match(line, /^\/run\/gs\/certs\/\S+\.pem \S+$/, 'a file and exactly one SNI filter: its own host');
      assert.equal(out.certificates[byHost.get(host)!.slice('/run/gs/certs/'.length)], pem);
    }
    // The operator's certificate comes first: it answers every name no alias certificate is filtered for.
    assert.match(out.config, /bind 127\.0\.0\.1:18443 ssl crt \/etc\/gs\/apps\.pem crt-list \/run\/gs\/certs\.list alpn http\/1\.1/);
    assert.doesNotMatch(out.config, /strict-sni/);
  });

  it("with the operator's certificate alone, lists no alias certificate", () => {
    const out = renderHaproxy({ version: 1, apps: [route()] }, { ...opts('/run/gs'), defaultCertificate: '/etc/gs/apps.pem' });
    assert.match(out.config, /bind 127\.0\.0\.1:18443 ssl crt \/etc\/gs\/apps\.pem alpn http\/1\.1/);
    assert.equal(out.crtList, '');
  });

  it('is deterministic', () => {
    const table: RouteTable = { version: 1, apps: [route()] };
    assert.deepEqual(renderHaproxy(table, opts('/x')), renderHaproxy({ ...table, version: 2 }, opts('/x')));
  });

  it('renders a configuration that HAProxy itself accepts', { skip: spawnSync('haproxy', ['-v']).status !== 0 && 'haproxy is not installed' }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'router-'));
    mkdirSync(join(dir, 'pages'));
    writeFileSync(join(dir, 'pages', 'unknown-host.html'), UNKNOWN_HOST_PAGE);
    writeFileSync(join(dir, 'pages', 'unavailable.http'), UNAVAILABLE_PAGE);
    const out = renderHaproxy(
      {
        version: 1,
        apps: [
          route(),
          route({ appId: 'ffffffff-0000-4000-8000-000000000000', hosts: ['blog-acme.localhost'], state: 'stopped' }),
          route({ appId: 'eeeeeeee-0000-4000-8000-000000000000', hosts: ['any-acme.localhost'], health: { kind: 'http', path: '/', status: 'any' } }),
          route({
            appId: 'dddddddd-0000-4000-8000-000000000000',
            hosts: ['ready-acme.localhost'],
            health: { kind: 'http', path: '/ready?full=1', status: 200 },
          }),
          route({ appId: 'cccccccc-0000-4000-8000-000000000000', hosts: ['tcp-acme.localhost'], health: { kind: 'tcp' } }),
          route({ appId: 'bbbbbbbb-0000-4000-8000-000000000000', hosts: ['failed-acme.localhost'], state: 'stopped', failure: 'it said "%[src]" # \\ <b>' }),
        ],
      },
      opts(dir),
    );
    writeFileSync(join(dir, 'hosts.map'), out.hostsMap);
    writeFileSync(join(dir, 'haproxy.cfg'), out.config);
    const check = spawnSync('haproxy', ['-c', '-f', join(dir, 'haproxy.cfg')], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
  });

  it(
    'renders a crt-list HAProxy itself accepts',
    { skip: (spawnSync('haproxy', ['-v']).status !== 0 || spawnSync('openssl', ['version']).status !== 0) && 'haproxy or openssl is not installed' },
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'router-'));
      mkdirSync(join(dir, 'pages'));
      mkdirSync(join(dir, 'certs'));
      writeFileSync(join(dir, 'pages', 'unknown-host.html'), UNKNOWN_HOST_PAGE);
      writeFileSync(join(dir, 'pages', 'unavailable.http'), UNAVAILABLE_PAGE);
      spawnSync('openssl', [
        'req',
        '-x509',
        '-nodes',
        '-newkey',
        'rsa:2048',
        '-days',
        '2',
        '-subj',
        '/CN=www.shop.test',
        '-keyout',
        join(dir, 'k'),
        '-out',
        join(dir, 'c'),
      ]);
      const pem = `${readFileSync(join(dir, 'c'), 'utf8')}${readFileSync(join(dir, 'k'), 'utf8')}`;
      const out = renderHaproxy({ version: 1, apps: [route({ tls: [{ host: 'www.shop.test', pem }] })] }, opts(dir));
      for (const [file, content] of Object.entries(out.certificates)) writeFileSync(join(dir, 'certs', file), content);
      writeFileSync(join(dir, 'certs.list'), out.crtList);
      writeFileSync(join(dir, 'hosts.map'), out.hostsMap);
      writeFileSync(join(dir, 'haproxy.cfg'), out.config);
      const check = spawnSync('haproxy', ['-c', '-f', join(dir, 'haproxy.cfg')], { encoding: 'utf8' });
      assert.equal(check.status, 0, check.stderr);
      rmSync(dir, { recursive: true, force: true });
    },
  );
});
