import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolve, join } from 'node:path';
import { loadCatalog, specHash } from '@gearshift/cartridges';
import { buildGearSpecs, conflictWarning, publishedConflicts, publishedVars, routeHealth, shellCommand, type AppShape, type GearRelease } from './gear-specs';
import { checkCartridgeSet } from './cartridge-rules';
import { GearshiftError } from '../common/errors';

const catalog = loadCatalog(join(resolve(__dirname, '../../../../..'), 'cartridges'));

const app: AppShape = {
  id: 'a0000000-0000-4000-8000-000000000000',
  name: 'shop',
  domain: 'acme',
  state: 'started',
  size: 'small',
  env: { GREETING: 'hi' },
  cartridges: [
    { name: 'nodejs-18', generated: {} },
    { name: 'postgresql-15', generated: { POSTGRESQL_USER: 'u1', POSTGRESQL_PASSWORD: 'pw' } },
  ],
  gears: [
    { id: 'b0000000-0000-4000-8000-000000000001', cartridge: 'nodejs-18', nodeId: 'n0000000-0000-4000-8000-000000000000', generation: 0 },
    { id: 'b0000000-0000-4000-8000-000000000002', cartridge: 'postgresql-15', nodeId: 'n0000000-0000-4000-8000-000000000000', generation: 0 },
  ],
};

describe('gear specs', () => {
  const specs = buildGearSpecs(app, catalog, 'gs');
  const web = specs.find((s) => s.cartridge === 'nodejs-18')!;
  const db = specs.find((s) => s.cartridge === 'postgresql-15')!;

  it('gives the web gear the database URL and variables the database publishes', () => {
    assert.equal(web.env.DATABASE_URL, 'postgresql://u1:pw@postgresql-15:5432/shop');
    assert.equal(web.env.POSTGRESQL_HOST, 'postgresql-15');
    assert.equal(web.env.GREETING, 'hi');
    assert.equal(web.env.GEARSHIFT_APP, 'shop');
  });

  it("starts a gear a configuration change rolls out with its own environment; the serving gear keeps the app's", () => {
    const fresh = {
      id: 'b0000000-0000-4000-8000-000000000003',
      cartridge: 'nodejs-18',
      nodeId: app.gears[0].nodeId,
      generation: 0,
      env: { GREETING: 'hello', NEW: '1' },
    };
    const rolling = buildGearSpecs({ ...app, gears: [...app.gears, fresh] }, catalog, 'gs');
    const [old, next] = ['b0000000-0000-4000-8000-000000000001', fresh.id].map((id) => rolling.find((s) => s.gearId === id)!);
    assert.deepEqual(old, web, 'the serving gear is not touched');
    assert.equal(next.env.GREETING, 'hello');
    assert.equal(next.env.NEW, '1');
    assert.equal(next.env.DATABASE_URL, web.env.DATABASE_URL, 'it gets what the services publish like any web gear');
  });

  it('gives the database its own credentials but not the user environment', () => {
    assert.deepEqual([db.env.POSTGRESQL_USER, db.env.POSTGRESQL_PASSWORD, db.env.POSTGRESQL_DATABASE], ['u1', 'pw', 'shop']);
    assert.equal(db.env.GREETING, undefined);
    assert.equal(db.env.DATABASE_URL, undefined);
  });

  it('names containers, networks and volumes by instance, app and gear, and sizes them', () => {
    assert.equal(web.network, db.network);
    assert.equal(db.volumes[0].name, `gs-${app.id}-postgresql-15-data`);
    assert.deepEqual(db.aliases, ['postgresql-15']);
    assert.deepEqual(web.resources, { memoryMb: 256, cpus: 0.5, pids: 512 });
    // A web gear is up when its port answers HTTP at all: real apps have no health route.
    assert.deepEqual(web.health, { kind: 'http', port: 8080, path: '/', status: 'any', timeoutSeconds: 60 });
    assert.equal(db.health.kind, 'command');
    assert.equal(web.web, true);
    assert.equal(db.web, false);
  });

  it("gives web gears of a release the check the release was deployed with, over the cartridge's", () => {
    const release = (health: GearRelease['health']) => ({ image: 'registry/shop:1', env: {}, health });
    const withRelease = (health: GearRelease['health']) =>
      buildGearSpecs({ ...app, gears: app.gears.map((g) => (g.cartridge === 'nodejs-18' ? { ...g, release: release(health) } : g)) }, catalog, 'gs');
    const webOf = (specs: ReturnType<typeof buildGearSpecs>) => specs.find((s) => s.cartridge === 'nodejs-18')!.health;
    assert.deepEqual(webOf(withRelease({ path: '/ready', status: 200 })), { kind: 'http', port: 8080, path: '/ready', status: 200, timeoutSeconds: 60 });
    assert.deepEqual(webOf(withRelease({ path: '/ready' })), { kind: 'http', port: 8080, path: '/ready', timeoutSeconds: 60 }, 'a path alone: below 400');
    assert.deepEqual(webOf(withRelease({ timeoutSeconds: 300 })), { kind: 'http', port: 8080, path: '/', status: 'any', timeoutSeconds: 300 });
    assert.deepEqual(
      webOf(withRelease(null)),
      { kind: 'http', port: 8080, path: '/', status: 'any', timeoutSeconds: 60 },
      "no check of its own: the cartridge's",
    );
    // The services keep their own checks.
    assert.equal(withRelease({ path: '/ready' }).find((s) => s.cartridge === 'postgresql-15')!.health.kind, 'command');
  });

  it('gives the router the same check the rollout waits for', () => {
    assert.deepEqual(routeHealth(web.health), { kind: 'http', path: '/', status: 'any' });
    assert.deepEqual(routeHealth({ kind: 'tcp', port: 3000, timeoutSeconds: 120 }), { kind: 'tcp' });
    assert.equal(routeHealth(db.health), null, 'a command runs inside the gear; the router has none');
  });

  it('keeps services but stops web gears of an idle app', () => {
    const idle = buildGearSpecs({ ...app, state: 'idle' }, catalog, 'gs');
    assert.deepEqual(idle.map((s) => [s.cartridge, s.running]).sort(), [
      ['nodejs-18', false],
      ['postgresql-15', true],
    ]);
  });

  it('gives DATABASE_URL to the database embedded first when two publish it', () => {
    const both = buildGearSpecs(
      {
        ...app,
        cartridges: [...app.cartridges, { name: 'mariadb-10.11', generated: { MYSQL_USER: 'm', MYSQL_PASSWORD: 'p' } }],
        gears: [...app.gears, { id: 'b0000000-0000-4000-8000-000000000003', cartridge: 'mariadb-10.11', nodeId: app.gears[0].nodeId, generation: 0 }],
      },
      catalog,
      'gs',
    ).find((s) => s.cartridge === 'nodejs-18')!;
    assert.match(both.env.DATABASE_URL, /^postgresql:/);
    assert.match(both.env.MYSQL_URL, /^mysql:\/\/m:p@mariadb-10\.11:3306\/shop$/);
  });

  it('orders gears by id and names them the same whatever order they come in', () => {
    const reversed = buildGearSpecs({ ...app, gears: [...app.gears].reverse() }, catalog, 'gs');
    assert.deepEqual(
      reversed.map((s) => [s.gearId, s.containerName, s.hostname, s.network]),
      [
        ['b0000000-0000-4000-8000-000000000001', 'gs-shop-acme-nodejs-18-b0000000', 'nodejs-18-b0000000', 'gs-a0000000-n0000000'],
        ['b0000000-0000-4000-8000-000000000002', 'gs-shop-acme-postgresql-15-b0000000', 'postgresql-15-b0000000', 'gs-a0000000-n0000000'],
      ],
    );
    assert.deepEqual(reversed, specs, 'the order of the input changes nothing');
  });

  it("points a web gear on another node at the port the database publishes on its node's address", () => {
    const [n1, n2] = ['n0000000-0000-4000-8000-000000000000', 'n0000000-0000-4000-8000-000000000001'];
    const spread: AppShape = {
      ...app,
      gears: [
        ...app.gears.map((g) => (g.cartridge === 'postgresql-15' ? { ...g, ports: { postgresql: 32770 } } : g)),
        { id: 'b0000000-0000-4000-8000-000000000003', cartridge: 'nodejs-18', nodeId: n2, generation: 0 },
      ],
      nodeAddresses: { [n1]: '10.0.0.1', [n2]: '10.0.0.2' },
    };
    const out = buildGearSpecs(spread, catalog, 'gs');
    assert.equal(out.find((s) => s.gearId.endsWith('3'))!.env.DATABASE_URL, 'postgresql://u1:pw@10.0.0.1:32770/shop');
    assert.equal(out.find((s) => s.gearId.endsWith('1'))!.env.DATABASE_URL, 'postgresql://u1:pw@postgresql-15:5432/shop', 'beside it: the alias');
    assert.ok(
      out.every((s) => s.ports.every((port) => port.publish)),
      'every endpoint is published for the other nodes',
    );
  });

  it('marks secret published values', () => {
    const secret = publishedVars(app, catalog)
      .filter((p) => p.secret)
      .map((p) => p.name);
    assert.deepEqual(secret.sort(), ['DATABASE_URL', 'PGPASSWORD', 'POSTGRESQL_PASSWORD']);
  });

  it('gives the web gear the libpq variables, so a client with no settings reaches the database', () => {
    assert.deepEqual([web.env.PGHOST, web.env.PGPORT, web.env.PGUSER, web.env.PGPASSWORD, web.env.PGDATABASE], ['postgresql-15', '5432', 'u1', 'pw', 'shop']);
  });

  it('gives the database its certificate and key, and the web gear neither', () => {
    const withTls: AppShape = {
      ...app,
      cartridges: app.cartridges.map((c) =>
        c.name === 'postgresql-15' ? { ...c, generated: { ...c.generated, GEARSHIFT_TLS_CERT: 'CERT', GEARSHIFT_TLS_KEY: 'KEY' } } : c,
      ),
    };
    const specs2 = buildGearSpecs(withTls, catalog, 'gs');
    const db2 = specs2.find((s) => s.cartridge === 'postgresql-15')!;
    assert.equal(db2.env.GEARSHIFT_TLS_CERT, 'CERT');
    assert.equal(db2.env.GEARSHIFT_TLS_KEY, 'KEY');
    assert.equal(specs2.find((s) => s.web)!.env.GEARSHIFT_TLS_KEY, undefined);
  });

  it('leaves a database embedded before certificates existed as it was, without TLS variables', () => {
    assert.ok(!('GEARSHIFT_TLS_CERT' in db.env));
    assert.ok(!('GEARSHIFT_TLS_KEY' in db.env));
  });
});

describe('cartridge rules', () => {
  const code = (names: string[]) => {
    try {
      checkCartridgeSet(names, catalog);
      return 'ok';
    } catch (err) {
      assert.ok(err instanceof GearshiftError);
      return `${err.code} ${JSON.stringify(err.details)}`;
    }
  };
  it('accepts one web cartridge with services', () => assert.equal(code(['nodejs-18', 'postgresql-15']), 'ok'));
  it('refuses an unknown cartridge, naming it by position', () => assert.match(code(['nodejs-18', 'nope']), /^invalid_input .*"\/cartridges\/1"/));
  it('accepts an app without a web cartridge (its runtime is detected when code is pushed)', () => {
    assert.equal(code(['postgresql-15']), 'ok');
    assert.equal(code([]), 'ok');
  });
  it('refuses two web cartridges', () => assert.match(code(['nodejs-18', 'static']), /^rule_violation .*one-web-cartridge/));
});

describe('names a compose file gives its cartridges, and volumes of each gear its own', () => {
  const named: AppShape = {
    ...app,
    cartridges: [
      {
        name: 'docker-image',
        generated: {},
        options: { image: 'team/api:1', port: 3000, volumes: [{ name: 'uploads', path: '/up' }, { path: '/app/node_modules' }] },
      },
      { ...app.cartridges[1], options: { aliases: ['postgres'] } },
    ],
    gears: [{ ...app.gears[0], cartridge: 'docker-image' }, app.gears[1]],
  };
  const specs = buildGearSpecs(named, catalog, 'gs');
  const [web, db] = ['docker-image', 'postgresql-15'].map((c) => specs.find((s) => s.cartridge === c)!);

  it("reaches a cartridge by its compose service name as well as by its own, and leaves other gears' specs as they were", () => {
    assert.deepEqual(db.aliases, ['postgresql-15', 'postgres']);
    assert.deepEqual(web.aliases, ['docker-image']);
    const plain = buildGearSpecs(app, catalog, 'gs').find((s) => s.cartridge === 'postgresql-15')!;
    assert.equal('anonymousVolumes' in plain, false, 'no empty field: the hash of every other gear stays the same');
    assert.deepEqual({ ...db, aliases: plain.aliases }, plain);
  });

  it("gives an unnamed volume to each gear as its own, and keeps named ones as the app's volumes", () => {
    assert.deepEqual(web.volumes, [{ name: `gs-${app.id}-docker-image-uploads`, path: '/up' }]);
    assert.deepEqual(web.anonymousVolumes, ['/app/node_modules']);
    assert.equal(db.anonymousVolumes, undefined);
  });

  it('hands the names to the database an upgrade put in its place, and nothing to the stopped one', () => {
    const upgrading: AppShape = {
      ...named,
      cartridges: [
        { ...named.cartridges[1], supersededBy: 'postgresql-17' },
        { name: 'postgresql-17', generated: {} },
      ],
      gears: [app.gears[1], { ...app.gears[1], id: 'b0000000-0000-4000-8000-000000000009', cartridge: 'postgresql-17' }],
    };
    const after = buildGearSpecs(upgrading, catalog, 'gs');
    assert.deepEqual(after.find((s) => s.cartridge === 'postgresql-15')!.aliases, ['postgresql-15']);
    assert.deepEqual(after.find((s) => s.cartridge === 'postgresql-17')!.aliases, ['postgresql-17', 'postgres']);
    // Before the switch, the new database is not yet the one the app reaches.
    const before = buildGearSpecs({ ...upgrading, cartridges: [named.cartridges[1], upgrading.cartridges[1]] }, catalog, 'gs');
    assert.deepEqual(before.find((s) => s.cartridge === 'postgresql-17')!.aliases, ['postgresql-17']);
  });
});

describe("a docker-image gear's confinement", () => {
  const image: AppShape = {
    ...app,
    cartridges: [{ name: 'docker-image', generated: {}, options: { image: 'team/api:1', port: 3000 } }, app.cartridges[1]],
    gears: [{ ...app.gears[0], cartridge: 'docker-image' }, app.gears[1]],
  };
  const gearOf = (shape: AppShape, cartridge: string) => buildGearSpecs(shape, catalog, 'gs').find((s) => s.cartridge === cartridge)!;

  it("gets the restricted default, with the image's own user, unless an administrator allowed more", () => {
    const plain = gearOf(image, 'docker-image');
    assert.deepEqual(plain.security, { capabilities: [], readOnlyRootFilesystem: false, tmpfs: [] });
    assert.equal(plain.user, undefined);
  });

  it('gets what an administrator allowed the app, and the other gears keep their own', () => {
    const allowed = { ...image, securityOverride: { runAsRoot: true, capabilities: ['NET_RAW' as const, 'NET_ADMIN' as const], readOnlyRootfs: true } };
    const gear = gearOf(allowed, 'docker-image');
    assert.deepEqual(gear.security, { capabilities: ['NET_ADMIN', 'NET_RAW'], readOnlyRootFilesystem: true, tmpfs: [] });
    assert.equal(gear.user, '0:0');
    assert.deepEqual(gearOf(allowed, 'postgresql-15'), gearOf(image, 'postgresql-15'));
  });

  describe('Procfile process gears', () => {
    const release: GearRelease = {
      image: 'reg/shop:4',
      env: { GREETING: 'hey' },
      processes: { web: 'node web.js', worker: 'node worker.js', release: 'node m.js' },
    };
    const shape: AppShape = {
      ...app,
      gears: [
        { ...app.gears[0], release },
        app.gears[1],
        { id: 'b0000000-0000-4000-8000-000000000009', cartridge: 'nodejs-18', nodeId: app.gears[0].nodeId, generation: 2, release, process: 'worker' },
      ],
    };
    const all = buildGearSpecs(shape, catalog, 'gs');
    const worker = all.find((s) => s.process === 'worker')!;
    const webGear = all.find((s) => s.cartridge === 'nodejs-18' && !s.process)!;

    it("runs the release's image with the Procfile line through a shell, and the web gears' environment", () => {
      assert.deepEqual(worker.image, { ref: 'reg/shop:4' });
      assert.deepEqual(worker.command, ['/bin/sh', '-c', 'exec node worker.js']);
      assert.equal(worker.env.GREETING, 'hey');
      assert.equal(worker.env.DATABASE_URL, webGear.env.DATABASE_URL);
      assert.equal(worker.generation, 2);
    });

    it('serves nothing: no port, no name on the network, healthy while it runs', () => {
      assert.equal(worker.web, false);
      assert.deepEqual(worker.ports, []);
      assert.deepEqual(worker.aliases, []);
      assert.deepEqual(worker.health, { kind: 'none', timeoutSeconds: 60 });
      assert.match(worker.containerName, /^gs-shop-acme-worker-b0000000$/);
      assert.equal(webGear.web, true);
      assert.deepEqual(webGear.aliases, ['nodejs-18']);
    });

    it('keeps running while the app idles, as services do; web gears stop', () => {
      const idle = buildGearSpecs({ ...shape, state: 'idle' }, catalog, 'gs');
      assert.equal(idle.find((s) => s.process === 'worker')!.running, true);
      assert.equal(idle.find((s) => s.cartridge === 'nodejs-18' && !s.process)!.running, false);
    });

    it('leaves the specs of an app without process gears as they were (no process field)', () => {
      assert.equal(
        buildGearSpecs(app, catalog, 'gs').some((s) => 'process' in s),
        false,
      );
    });
  });

  describe('named service gears', () => {
    const node = app.gears[0].nodeId;
    const release: GearRelease = {
      image: '',
      env: { GREETING: 'hey' },
      services: {
        api: {
          kind: 'web',
          image: 'reg/shop:5-api',
          cartridge: 'nodejs-18',
          port: 3000,
          health: { path: '/ready' },
          env: { MODE: 'api' },
          dependsOn: ['echo', 'postgresql-15'],
        },
        echo: {
          kind: 'internal',
          image: 'reg/shop:5-echo',
          cartridge: 'docker-image',
          port: 7000,
          command: 'node echo.js',
          volumes: [{ name: 'data', path: '/data' }, { path: '/app/node_modules' }],
        },
        jobs: {
          kind: 'worker',
          image: 'busybox:1',
          cartridge: 'docker-image',
          command: ['sleep', '1000'],
          entrypoint: ['/usr/bin/env'],
          workingDir: '/work',
          size: 'medium',
          dependsOn: ['echo', 'postgresql-15'],
        },
      },
    };
    const gear = (n: number, service: string, cartridge: string) => ({
      id: `b0000000-0000-4000-8000-00000000001${n}`,
      cartridge,
      nodeId: node,
      generation: 1,
      release,
      service,
    });
    const shape: AppShape = {
      ...app,
      cartridges: [app.cartridges[1]],
      gears: [app.gears[1], gear(1, 'api', 'nodejs-18'), gear(2, 'echo', 'docker-image'), gear(3, 'jobs', 'docker-image')],
    };
    const all = buildGearSpecs(shape, catalog, 'gs');
    const [api, echo, jobs] = ['api', 'echo', 'jobs'].map((n) => all.find((s) => s.service === n)!);

    it("runs each service's image and command, with the app's environment, its own and what the cartridges publish", () => {
      assert.deepEqual(api.image, { ref: 'reg/shop:5-api' });
      assert.equal(api.command, undefined);
      assert.deepEqual(echo.command, ['/bin/sh', '-c', 'exec node echo.js']);
      assert.deepEqual(jobs.command, ['sleep', '1000']);
      // A compose file's entrypoint replaces the image's, the command its arguments, in its working directory.
      assert.deepEqual([jobs.entrypoint, jobs.workingDir], [['/usr/bin/env'], '/work']);
      assert.deepEqual([api.entrypoint, api.workingDir], [undefined, undefined]);
      assert.deepEqual(shellCommand('while true; do sleep 1; done'), ['/bin/sh', '-c', 'while true; do sleep 1; done']);
      assert.deepEqual(shellCommand('node a.js | tee out'), ['/bin/sh', '-c', 'node a.js | tee out']);
      assert.equal(api.env.GREETING, 'hey');
      assert.equal(api.env.MODE, 'api');
      assert.equal(api.env.PORT, '3000');
      assert.equal(api.env.GEARSHIFT_SERVICE, 'api');
      for (const s of [api, echo, jobs]) assert.equal(s.env.DATABASE_URL, 'postgresql://u1:pw@postgresql-15:5432/shop');
    });

    it('routes only web services; web and internal ones are reached by name on their port, a worker by nothing', () => {
      assert.deepEqual([api.web, echo.web, jobs.web], [true, false, false]);
      assert.deepEqual(api.aliases, ['api']);
      assert.deepEqual(echo.aliases, ['echo']);
      assert.deepEqual(jobs.aliases, []);
      assert.deepEqual(api.ports, [{ name: 'http', containerPort: 3000, protocol: 'http', publish: true }]);
      assert.deepEqual(echo.ports, [{ name: 'tcp', containerPort: 7000, protocol: 'tcp', publish: true }]);
      assert.deepEqual(jobs.ports, []);
    });

    it('starts a service after those it depends on, which does not change its spec hash', () => {
      assert.deepEqual(api.waitsFor, ['echo', 'postgresql-15']);
      assert.equal(echo.waitsFor, undefined);
      assert.equal(specHash(api), specHash({ ...api, waitsFor: undefined }));
    });

    it("checks a web service at its health path, an internal one on its port, and a worker's running", () => {
      assert.deepEqual(api.health, { kind: 'http', port: 3000, path: '/ready', timeoutSeconds: 120 });
      assert.deepEqual(echo.health, { kind: 'tcp', port: 7000, timeoutSeconds: 120 });
      assert.deepEqual(jobs.health, { kind: 'none', timeoutSeconds: 60 });
    });

    it('confines every service as a named image, with its own size and volumes', () => {
      for (const s of [api, echo, jobs]) assert.deepEqual(s.security, { capabilities: [], readOnlyRootFilesystem: false, tmpfs: [] });
      assert.deepEqual(echo.volumes, [{ name: `gs-${app.id}-svc-echo-data`, path: '/data' }]);
      // Each gear's own: made from its release's image, so a new release's files are what it sees there.
      assert.deepEqual(echo.anonymousVolumes, ['/app/node_modules']);
      assert.equal(api.anonymousVolumes, undefined);
      assert.equal(jobs.resources.memoryMb, 1024);
      assert.match(echo.containerName, /^gs-shop-acme-echo-b0000000$/);
    });

    it('starts a worker after the internal service it depends on', () => {
      assert.deepEqual(jobs.waitsFor, ['echo', 'postgresql-15']);
    });

    it('stops only web services while the app idles', () => {
      const idle = buildGearSpecs({ ...shape, state: 'idle' }, catalog, 'gs');
      assert.deepEqual(
        ['api', 'echo', 'jobs'].map((n) => idle.find((s) => s.service === n)!.running),
        [false, true, true],
      );
    });

    it("leaves the specs of the app's other gears as they were (no service field)", () => {
      assert.deepEqual(
        all.find((s) => s.cartridge === 'postgresql-15'),
        buildGearSpecs({ ...shape, gears: [app.gears[1]] }, catalog, 'gs')[0],
      );
      assert.equal(
        buildGearSpecs(app, catalog, 'gs').some((s) => 'service' in s),
        false,
      );
    });
  });
  describe('two cartridges publishing the same variable', () => {
    const node = app.gears[0].nodeId;
    const cartridges: AppShape['cartridges'] = [
      { name: 'postgresql-17', generated: { POSTGRESQL_USER: 'u1', POSTGRESQL_PASSWORD: 'pw' } },
      { name: 'mariadb-11.8', generated: { MYSQL_USER: 'm', MYSQL_PASSWORD: 'p' } },
    ];
    // `composed`: the services of a compose file, whose env was written for the file's own database containers.
    const release = (env: Record<string, string>, composed = false): GearRelease => ({
      image: '',
      env,
      services: {
        api: { kind: 'web', image: 'reg/shop:5-api', cartridge: 'nodejs-18', port: 3000, ...(composed ? {} : { envOverPublished: true }) },
        legacy: {
          kind: 'worker',
          image: 'reg/shop:5-legacy',
          cartridge: 'docker-image',
          env: { DATABASE_URL: 'mysql://chosen' },
          ...(composed ? {} : { envOverPublished: true }),
        },
      },
    });
    const specsOf = (env: Record<string, string>, composed = false) => {
      const gear = (n: number, service: string) => ({
        id: `b0000000-0000-4000-8000-00000000002${n}`,
        cartridge: 'docker-image',
        nodeId: node,
        generation: 1,
        release: release(env, composed),
        service,
      });
      const shape: AppShape = { ...app, env, cartridges, gears: [gear(1, 'api'), gear(2, 'legacy')] };
      const all = buildGearSpecs(shape, catalog, 'gs');
      return { api: all.find((s) => s.service === 'api')!, legacy: all.find((s) => s.service === 'legacy')! };
    };

    it("gives a service's gears the first publisher's value when nothing chooses, and its own env: over it", () => {
      const { api, legacy } = specsOf({});
      assert.match(api.env.DATABASE_URL, /^postgresql:\/\/u1:pw@postgresql-17:5432\//);
      assert.match(api.env.MYSQL_URL, /^mysql:\/\/m:p@mariadb-11\.8:3306\//, "the other's own names are given");
      assert.equal(legacy.env.DATABASE_URL, 'mysql://chosen', "a service's env: wins over what cartridges publish");
    });

    it("gives the app's own variable (env set) over a published one, and the service's own over both", () => {
      const { api, legacy } = specsOf({ DATABASE_URL: 'postgresql://mine' });
      assert.equal(api.env.DATABASE_URL, 'postgresql://mine');
      assert.equal(legacy.env.DATABASE_URL, 'mysql://chosen');
    });

    it("gives a compose file's service what the cartridges publish over its own env, and the app's own over both", () => {
      const { legacy } = specsOf({}, true);
      assert.match(legacy.env.DATABASE_URL, /^postgresql:\/\/u1:pw@postgresql-17:5432\//, "the file's URL named its own database container");
      const chosen = specsOf({ DATABASE_URL: 'postgresql://mine' }, true);
      assert.equal(chosen.legacy.env.DATABASE_URL, 'postgresql://mine');
      assert.equal(chosen.api.env.DATABASE_URL, 'postgresql://mine');
    });

    it('names both publishers and the one whose value is given, unless the app chooses', () => {
      const published = publishedVars({ ...app, cartridges }, catalog);
      const conflicts = publishedConflicts(published);
      assert.deepEqual(conflicts, [{ name: 'DATABASE_URL', from: ['postgresql-17', 'mariadb-11.8'], given: 'postgresql-17' }]);
      assert.match(conflictWarning(conflicts[0]), /^DATABASE_URL is published by both postgresql-17 and mariadb-11\.8: postgresql-17's is given/);
      assert.deepEqual(publishedConflicts(published, { DATABASE_URL: 'x' }), [{ name: 'DATABASE_URL', from: ['postgresql-17', 'mariadb-11.8'], given: null }]);
      assert.deepEqual(publishedConflicts(publishedVars(app, catalog)), [], 'one publisher: nothing to say');
    });
  });
});
