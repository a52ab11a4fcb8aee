import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSigned } from './support/certificates';
import { eventually, gitPush, Platform, runCli } from './support/platform';

/**
 * An app of two web services pushed with git: `front` answers at the app's host name, `api` at a host name of its
 * own and autoscales between 1 and 3 gears. Load on api's host name through the router grows api alone; a push under
 * that load keeps the count it grew to; once the load is gone it shrinks back. api's host name is served over HTTPS
 * with a certificate given to it as to an alias. By hand, a number of gears turns its autoscaling off and bounds turn
 * it on again.
 */

const APP = '/domains/svs/apps/sca';
const HOST = 'sca-svs.localhost';
const API = 'api.sca.test';

const DESCRIPTOR = `name: sca
cartridges: []
services:
  front:
    kind: web
    build: ./web
    port: 3000
    env: { WHO: front }
  api:
    kind: web
    build: ./web
    port: 3000
    env: { WHO: api }
    hosts: [${API}]
    autoscale: { min: 1, max: 3, targetConcurrency: 2 }
`;

// `/slow?ms=N` answers after N ms: requests that last keep the router's count of concurrent requests up.
const SERVER = `const http = require('node:http');
const version = require('./version');
http
  .createServer((req, res) => {
    const ms = Number(new URL(req.url, 'http://x').searchParams.get('ms') ?? 0);
    setTimeout(() => res.end(\`\${process.env.WHO} \${version}\`), ms);
  })
  .listen(Number(process.env.PORT));
`;

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, '-c', 'user.email=dev@example.com', '-c', 'user.name=dev', ...args], { encoding: 'utf8' });
}

interface ServiceView {
  name: string;
  scale: number;
  gears: number;
  autoscale?: { min: number; max: number; targetConcurrency: number };
}
interface GearView {
  service?: string;
  state: string;
  release: number | null;
}

describe('autoscaled web services, and TLS on their host names', { timeout: 900_000 }, () => {
  let p: Platform;
  const repo = mkdtempSync(join(tmpdir(), 'gearshift-svcscale-'));

  const commit = (version: string) => {
    const files = {
      'gearshift.yml': DESCRIPTOR,
      'web/package.json': JSON.stringify({ name: 'web', version: '1.0.0', scripts: { start: 'node server.js' } }),
      'web/server.js': SERVER,
      'web/version.js': `module.exports = '${version}';\n`,
    };
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(repo, name, '..'), { recursive: true });
      writeFileSync(join(repo, name), text);
    }
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', `release ${version}`);
  };
  const push = () => gitPush(repo, `http://dev:${p.token}@127.0.0.1:${p.port}/git/svs/sca.git`);
  const answers = (host: string, want: string) => p.answers(host, want);
  const app = async () => (await p.api('GET', APP)).body as { services: ServiceView[]; gears: GearView[] };
  const service = async (name: string) => (await app()).services.find((s) => s.name === name)!;
  // A push or a change by hand waits for the autoscaler's operation to end: one change of an app runs at a time.
  const settled = () =>
    eventually(
      'no operation of the app to be running',
      async () => ((await p.api('GET', `${APP}/operations`)).body as { state: string }[]).every((o) => o.state !== 'queued' && o.state !== 'running'),
      60_000,
      250,
    );
  const running = async (name: string, release?: number) =>
    (await app()).gears.filter((g) => g.service === name && g.state === 'running' && (release === undefined || g.release === release)).length;

  before(async () => {
    p = await Platform.start(
      'services-scale',
      { node1: {} },
      {
        router: true,
        // Short cooldowns so that the test does not wait minutes; the defaults are 10 s up and 60 s down.
        env: { GEARSHIFT_AUTOSCALE_INTERVAL_MS: '500', GEARSHIFT_SCALE_UP_COOLDOWN_MS: '1000', GEARSHIFT_SCALE_DOWN_COOLDOWN_MS: '4000' },
      },
    );
    assert.equal((await p.api('POST', '/domains', { name: 'svs' })).status, 201);
    const created = await p.api('POST', '/domains/svs/apps?wait=60', { name: 'sca', cartridges: [] });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    git(repo, 'init', '-q', '-b', 'main');
  });
  after(async () => {
    await p?.stop();
    rmSync(repo, { recursive: true, force: true });
  });

  it('starts an autoscaled service at its minimum and shows its bounds in GET app and app show', async () => {
    commit('1');
    const pushed = await push();
    assert.ok(pushed.ok, pushed.output);
    await answers(HOST, 'front 1');
    await answers(API, 'api 1');
    const api = await service('api');
    assert.deepEqual([api.scale, api.autoscale], [1, { min: 1, max: 3, targetConcurrency: 2 }]);
    assert.equal((await service('front')).autoscale, undefined);
    const home = mkdtempSync(join(tmpdir(), 'gearshift-svcscale-cli-'));
    try {
      const login = await runCli(p, home, ['login', '--password-stdin'], `${p.adminPassword}\n`);
      assert.equal(login.code, 0, login.stderr);
      const shown = await runCli(p, home, ['app', 'show', 'sca', '-d', 'svs']);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, /service\s+api: 1 of 1 gear\(s\), release 1 \(nodejs-\d+\), autoscaling 1\.\.3, at api\.sca\.test/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it("serves the service's host name over HTTPS with the certificate given to it, to the service's gears", async () => {
    const pair = selfSigned([API]);
    const bare = await p.api('POST', `${APP}/aliases`, { host: API });
    assert.equal(bare.status, 409, JSON.stringify(bare.body));
    assert.match(bare.body.message, /web service api; give a certificate and key/);
    const wrong = selfSigned(['other.sca.test']);
    const refused = await p.api('POST', `${APP}/aliases`, { host: API, ...wrong });
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    assert.equal(refused.body.details[0].rule, 'covers-host');
    const given = await p.api('POST', `${APP}/aliases`, { host: API, ...pair });
    assert.equal(given.status, 201, JSON.stringify(given.body));
    assert.equal(given.body.service, 'api');
    assert.equal(given.body.tls, true);
    assert.ok(!JSON.stringify(given.body).includes('PRIVATE KEY'), 'the key is never shown');
    const res = await eventually(
      `${API} to be served over HTTPS`,
      async () => {
        const r = await p.viaRouterTls(API, pair.certificate).catch(() => null);
        return r?.status === 200 ? r : null;
      },
      30_000,
      250,
    );
    assert.equal(res.body.trim(), 'api 1');
  });

  it('grows the service under load on its host name alone, keeps the count through a push, and shrinks once it is over', async () => {
    const agent = new HttpAgent({ keepAlive: true, maxSockets: 16 });
    let load = true;
    let failures = 0;
    // Twelve requests of a second each at all times: about 12 concurrent, 4 gears' worth at 2 a gear, so the service
    // stays at its maximum of 3 while the load lasts.
    const loops = Array.from({ length: 12 }, async () => {
      while (load) {
        const r = await p.viaRouter(API, '/slow?ms=1000', agent).catch(() => ({ status: 0 }));
        if (r.status !== 200) failures++;
      }
    });
    try {
      await eventually('api to autoscale to 3 gears', async () => (await service('api')).scale === 3 && (await running('api')) === 3, 90_000, 250);
      assert.equal((await service('front')).scale, 1, "the app's other web service is not scaled by api's traffic");
      // A push under load: the new release starts with the count the service has, not its minimum. A push while the
      // autoscaler changes the app is refused as busy, and is tried again, as a person would.
      commit('2');
      let grown = 0;
      const pushed = await eventually(
        'the push to be taken',
        async () => {
          await settled();
          grown = (await service('api')).scale;
          const tried = await push();
          return (tried.ok || !/is busy with operation/.test(tried.output)) && tried;
        },
        120_000,
        500,
      );
      assert.ok(pushed.ok, pushed.output);
      assert.ok(grown > 1, `api had ${grown} gear(s) when pushed`);
      await answers(API, 'api 2');
      await eventually(`${grown} api gears of release 2`, async () => (await running('api', 2)) === grown, 60_000, 250);
    } finally {
      load = false;
      await Promise.all(loops);
      agent.destroy();
    }
    assert.equal(failures, 0, 'no request failed while api scaled and its new release rolled out');
    await eventually('api to scale back to 1 gear', async () => (await service('api')).scale === 1 && (await running('api')) === 1, 90_000, 250);

    const ops = (await p.api('GET', `${APP}/operations`)).body as { kind: string; by: string; steps: { text: string }[] }[];
    const autoscale = ops.filter((o) => o.kind === 'app.autoscale');
    assert.ok(autoscale.every((o) => o.by === 'platform'));
    const said = autoscale.map((o) => o.steps[0].text);
    assert.ok(
      said.some((t) => /^autoscale service api to [23] gear\(s\): \d+ concurrent requests/.test(t)),
      JSON.stringify(said),
    );
    assert.ok(
      said.some((t) => /^autoscale service api to 1 gear\(s\)/.test(t)),
      JSON.stringify(said),
    );
    assert.ok(!said.some((t) => /service front/.test(t)), JSON.stringify(said));
  });

  it('turns autoscaling off with a number of gears by hand, and on again with bounds', async () => {
    await settled();
    const fixed = await p.api('PUT', `${APP}/scale?wait=120`, { service: 'api', replicas: 2 });
    assert.equal(fixed.body.operation?.state, 'succeeded', JSON.stringify(fixed.body));
    const api = await service('api');
    assert.deepEqual([api.scale, api.autoscale], [2, undefined]);
    await eventually('two api gears', async () => (await running('api')) === 2, 60_000, 250);
    const front = await p.api('PUT', `${APP}/scale`, { service: 'front', min: 2, max: 1 });
    assert.equal(front.status, 422, JSON.stringify(front.body));
    const bounds = await p.api('PUT', `${APP}/scale?wait=120`, { service: 'api', min: 1, max: 2, targetConcurrency: 5 });
    assert.equal(bounds.body.operation?.state, 'succeeded', JSON.stringify(bounds.body));
    assert.deepEqual((await service('api')).autoscale, { min: 1, max: 2, targetConcurrency: 5 });
    // Without traffic, it comes down to its new minimum by itself.
    await eventually('api to scale down to 1 gear', async () => (await service('api')).scale === 1, 60_000, 250);
  });
  it("gives a service the app's own DATABASE_URL over the two databases that publish it, and warns until the app chooses", async () => {
    const apply = async (yaml: string, query = '?dryRun=true') => {
      const res = await fetch(`${p.baseUrl}/api/v1/domains/svs/apply${query}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${p.token}`, 'content-type': 'text/yaml' },
        body: yaml,
      });
      return (await res.json()) as { warnings?: string[]; operation?: { state: string } };
    };
    // Added together by one file: in the order of their names.
    const planned = await apply('name: two\ncartridges: [postgresql-17, mariadb-11.8]\n');
    assert.deepEqual(planned.warnings, [
      "DATABASE_URL is published by both mariadb-11.8 and postgresql-17: mariadb-11.8's is given (the cartridge added first); set DATABASE_URL in the app's env, or a service's env:, to choose",
    ]);
    assert.equal((await apply('name: two\ncartridges: [postgresql-17, mariadb-11.8]\nenv: { DATABASE_URL: mine }\n')).warnings, undefined);

    await settled();
    // The app's file names the databases, one after the other: postgresql-17 is added first.
    for (const cartridges of ['postgresql-17', 'postgresql-17, mariadb-11.8']) {
      const added = await apply(DESCRIPTOR.replace('cartridges: []', `cartridges: [${cartridges}]`), '?wait=240');
      assert.equal(added.operation?.state, 'succeeded', JSON.stringify(added));
    }
    assert.deepEqual((await p.api('GET', APP)).body.warnings, [
      "DATABASE_URL is published by both postgresql-17 and mariadb-11.8: postgresql-17's is given (the cartridge added first); set DATABASE_URL in the app's env, or a service's env:, to choose",
    ]);
    const mine = 'postgresql://app@db.sca.test/mine';
    const set = await p.api('PATCH', `${APP}/env?wait=240`, { DATABASE_URL: mine });
    assert.equal(set.body.operation?.state, 'succeeded', JSON.stringify(set.body));
    assert.equal((await p.api('GET', APP)).body.warnings, undefined);
    const res = await p.api('POST', `${APP}/run`, { command: ['sh', '-c', 'echo "$DATABASE_URL"; echo "$MYSQL_URL" | cut -d: -f1'], service: 'api' });
    const lines = (typeof res.body === 'string' ? res.body.split('\n').filter(Boolean) : [JSON.stringify(res.body)]).map(
      (l) => JSON.parse(l) as { line?: string; exitCode?: number },
    );
    assert.deepEqual(
      lines.map((l) => l.line ?? l.exitCode),
      [mine, 'mysql', 0],
      "the app's own variable, and the other database through its own",
    );
  });
});
