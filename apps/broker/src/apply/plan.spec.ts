import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { loadCatalog, parseDescriptor, SchemaViolationError } from '@gearshift/cartridges';
import { planApply, type AppState } from './plan';

const catalog = loadCatalog(join(resolve(__dirname, '../../../../..'), 'cartridges'));
const current: AppState = {
  cartridges: ['nodejs-18', 'postgresql-15'],
  size: 'small',
  webScale: 1,
  autoscale: null,
  env: { GREETING: 'hi' },
  aliases: [],
  idleAfterSeconds: null,
  health: null,
};
const file = (extra = '') => parseDescriptor(`name: shop\ncartridges: [nodejs-18, postgresql-15]\nenv: { GREETING: hi }\n${extra}`);

describe('descriptor plans', () => {
  it('is empty when the app already is what the file says', () => {
    assert.deepEqual(planApply(current, file(), catalog), { items: [], refusals: [] });
  });

  it('plans the creation of a new app', () => {
    const { items } = planApply(null, file('aliases: [www.shop.test]'), catalog);
    assert.deepEqual(
      items.map((i) => `${i.action} ${i.target}`),
      ['create app shop', 'add env GREETING', 'add alias www.shop.test'],
    );
  });

  it("refuses a scale beyond what the web cartridge runs, a new app's and an existing app's, as a scale change is refused", () => {
    const want = [{ pointer: '/scale', rule: 'scaling', message: 'nodejs-18 scales from 1 to 10 gears, not 50' }];
    assert.deepEqual(planApply(null, file('scale: 50'), catalog).refusals, want);
    assert.deepEqual(planApply(current, file('scale: 50'), catalog).refusals, want);
    assert.deepEqual(planApply(current, file('scale: 10'), catalog).refusals, []);
  });

  it('lists exactly what changed, with reasons', () => {
    const d = parseDescriptor('name: shop\ncartridges: [nodejs-18, postgresql-15, redis-7]\nenv: { GREETING: hello, MODE: fast }\nscale: 2\n');
    const { items, refusals } = planApply(current, d, catalog);
    assert.deepEqual(refusals, []);
    assert.deepEqual(
      items.map((i) => `${i.action} ${i.target}`),
      ['add cartridge redis-7', 'change env GREETING', 'add env MODE', 'change scale'],
    );
    assert.equal(items.find((i) => i.target === 'env GREETING')?.reason, 'the value differs');
  });

  it("plans a health check from the file, and the cartridge's again when the file drops it", () => {
    const { items } = planApply(current, file('health: { path: /ready, status: 200 }'), catalog);
    assert.deepEqual(
      items.map((i) => [i.action, i.target, i.to]),
      [['change', 'health', { path: '/ready', status: 200 }]],
    );
    const same = planApply({ ...current, health: { status: 200, path: '/ready' } }, file('health: { path: /ready, status: 200 }'), catalog);
    assert.deepEqual(same.items, [], 'key order does not matter');
    const dropped = planApply({ ...current, health: { path: '/ready' } }, file(), catalog);
    assert.deepEqual(
      dropped.items.map((i) => [i.target, i.to]),
      [['health', null]],
    );
  });

  it('refuses a health check it could not apply, naming the field', () => {
    assert.throws(
      () => file('health: { path: ready, status: 600 }'),
      (err: Error) => {
        assert.ok(err instanceof SchemaViolationError);
        const pointers = err.violations.map((v) => v.pointer);
        assert.ok(pointers.includes('/health/path'), pointers.join());
        assert.ok(
          pointers.some((p) => p.startsWith('/health/status')),
          pointers.join(),
        );
        return true;
      },
    );
  });

  it('says what data a removal would lose', () => {
    const { items } = planApply(current, parseDescriptor('name: shop\ncartridges: [nodejs-18]\nenv: { GREETING: hi }\n'), catalog);
    assert.equal(items[0].action, 'remove');
    assert.match(items[0].loses!, /the data of postgresql-15 \(\/var\/lib\/gearshift\/postgresql\)/);
  });

  it('moves the web cartridge to another version of the same runtime, and nothing else', () => {
    const d = parseDescriptor('name: shop\ncartridges: [nodejs-24, postgresql-15]\nenv: { GREETING: hi }\n');
    const { items, refusals } = planApply(current, d, catalog);
    assert.deepEqual(refusals, []);
    assert.deepEqual(
      items.map((i) => [`${i.action} ${i.target}`, i.from, i.to]),
      [['change web cartridge', 'nodejs-18', 'nodejs-24']],
    );
    assert.equal(items[0].loses, undefined);
    // Another runtime, or a second web cartridge, is still refused.
    const twoWeb = planApply(current, parseDescriptor('name: shop\ncartridges: [nodejs-24, nodejs-22, postgresql-15]\n'), catalog);
    assert.deepEqual(
      twoWeb.refusals.map((r) => r.rule),
      ['web-cartridge'],
    );
  });

  it('refuses what a descriptor cannot change', () => {
    const { refusals } = planApply(current, parseDescriptor('name: shop\ncartridges: [python-3.11, postgresql-15]\nsize: large\n'), catalog);
    assert.deepEqual(
      refusals.map((r) => r.rule),
      ['web-cartridge', 'size-change'],
    );
  });

  it('gives an app created empty its web cartridge, but never takes one away', () => {
    const empty: AppState = { ...current, cartridges: [], env: {} };
    const { items, refusals } = planApply(empty, parseDescriptor('name: shop\ncartridges: [static, redis-7]\n'), catalog);
    assert.deepEqual(refusals, []);
    assert.deepEqual(
      items.map((i) => `${i.action} ${i.target}`),
      ['add cartridge static', 'add cartridge redis-7'],
    );
    // A file that names no web cartridge (the runtime detected by the first push) keeps the one the app has.
    assert.deepEqual(planApply(current, parseDescriptor('name: shop\ncartridges: [postgresql-15]\nenv: { GREETING: hi }\n'), catalog), {
      items: [],
      refusals: [],
    });
  });

  it('reports every violation of a broken file at once, with its path and rule', () => {
    try {
      parseDescriptor('name: Shop\ncartridges: []\nscale: 2\nautoscale: { min: 1, max: 3 }\nenv: { "BAD-NAME": x }\ncolour: red\n');
      assert.fail('accepted');
    } catch (err) {
      assert.ok(err instanceof SchemaViolationError);
      const got = err.violations.map((v) => `${v.pointer} ${v.rule}`).sort();
      assert.deepEqual(got, ['/autoscale not', '/cartridges minItems', '/colour additionalProperties', '/env/BAD-NAME propertyNames', '/name pattern']);
    }
  });

  it('plans an upgrade, not a removal and an addition, when a database gives way to its successor', () => {
    const d = parseDescriptor('name: shop\ncartridges: [nodejs-18, postgresql-17]\nenv: { GREETING: hi }\n');
    const { items, refusals } = planApply(current, d, catalog);
    assert.deepEqual(refusals, []);
    assert.deepEqual(
      items.map((i) => [i.action, i.target, i.from, i.to, i.loses]),
      [['upgrade', 'cartridge postgresql-15', 'postgresql-15', 'postgresql-17', undefined]],
    );
    // Another database is no successor: that one is a removal that loses data.
    const other = planApply(current, parseDescriptor('name: shop\ncartridges: [nodejs-18, mariadb-11.8]\nenv: { GREETING: hi }\n'), catalog);
    assert.deepEqual(
      other.items.map((i) => `${i.action} ${i.target}`),
      ['add cartridge mariadb-11.8', 'remove cartridge postgresql-15'],
    );
  });

  describe('while an upgrade waits to be confirmed', () => {
    const upgraded: AppState = { ...current, cartridges: ['nodejs-18', 'postgresql-17'], kept: [{ cartridge: 'postgresql-15', upgradedTo: 'postgresql-17' }] };
    const naming = (cartridges: string) => parseDescriptor(`name: shop\ncartridges: [${cartridges}]\nenv: { GREETING: hi }\n`);

    it('has nothing to do when the file names the new database', () => {
      assert.deepEqual(planApply(upgraded, naming('nodejs-18, postgresql-17'), catalog), { items: [], refusals: [] });
    });

    it('plans an abort, which loses what the new database took, when the file names the kept one', () => {
      const { items, refusals } = planApply(upgraded, naming('nodejs-18, postgresql-15'), catalog);
      assert.deepEqual(refusals, []);
      assert.deepEqual(
        items.map((i) => [i.action, i.target, i.from, i.to, i.loses]),
        [['abort', 'upgrade of postgresql-15 to postgresql-17', 'postgresql-17', 'postgresql-15', 'what was written to postgresql-17 since the upgrade']],
      );
    });

    it('refuses a file that names both, or neither, and says how to end the upgrade', () => {
      for (const cartridges of ['nodejs-18, postgresql-15, postgresql-17', 'nodejs-18']) {
        const { items, refusals } = planApply(upgraded, naming(cartridges), catalog);
        assert.deepEqual(items, [], cartridges);
        assert.deepEqual(
          refusals.map((r) => [r.pointer, r.rule]),
          [['/cartridges', 'upgrade-waiting']],
        );
        assert.match(refusals[0].message, /--confirm\) or aborted \(--abort\)/);
      }
    });
  });

  describe('named services', () => {
    const withServices: AppState = {
      ...current,
      services: {
        api: { kind: 'web', build: { context: 'api' }, env: { MODE: 'fast' }, port: 3000, scale: 2, scaled: false },
        jobs: { kind: 'worker', build: { context: 'worker' }, command: 'node worker.js', env: {}, scale: 1, scaled: false },
        prices: { kind: 'internal', image: 'registry:5000/team/prices:1.4', env: {}, port: 9000, scale: 1, scaled: false },
        old: { kind: 'worker', image: 'gearshift/base:trixie', env: {}, scale: 1, scaled: false },
      },
    };
    const services = (text: string) => file(`services:\n${text}`);
    const same = `  api: { kind: web, build: ./api, port: 3000, scale: 2, env: { MODE: fast } }
  jobs: { kind: worker, build: ./worker, command: node worker.js }
  prices: { kind: internal, image: registry:5000/team/prices:1.4, port: 9000 }
  old: { kind: worker, image: gearshift/base:trixie }
`;

    it('lists nothing for services the release that serves runs as the file says', () => {
      assert.deepEqual(planApply(withServices, services(same), catalog).items, []);
    });

    it('lists services added, removed and changed (scale, image or build, env), each as one item that says what differs', () => {
      const d = services(
        same
          .replace('scale: 2, env: { MODE: fast }', 'scale: 3, env: { MODE: slow }')
          .replace('build: ./worker', 'build: { context: ./worker, dockerfile: Dockerfile.prod }')
          .replace('prices:1.4', 'prices:1.5')
          .replace(/ {2}old: .*\n/, '  mailer: { kind: internal, image: registry:5000/team/mailer:2, port: 25 }\n'),
      );
      const { items, refusals } = planApply(withServices, d, catalog);
      assert.deepEqual(refusals, []);
      assert.deepEqual(
        items.map((i) => `${i.action} ${i.target}`),
        ['change service api', 'change service jobs', 'change service prices', 'add service mailer', 'remove service old'],
      );
      const api = items[0];
      assert.deepEqual(
        [api.from, api.to],
        [
          { env: { MODE: 'fast' }, scale: 2 },
          { env: { MODE: 'slow' }, scale: 3 },
        ],
      );
      assert.match(api.reason, /its env, scale differ: the next push of the code rolls it out/);
      assert.deepEqual(items[1].to, { build: { context: 'worker', dockerfile: 'Dockerfile.prod' } });
      assert.deepEqual(items[2].to, { image: 'registry:5000/team/prices:1.5' });
      assert.match(items[4].reason, /next push of the code stops it/);
    });

    it("compares an autoscaled service's bounds, not the count it has grown to", () => {
      const bounds = { min: 1, max: 4, targetConcurrency: 10 };
      const grown = { ...withServices, services: { ...withServices.services, api: { ...withServices.services!.api, scale: 3, autoscale: bounds } } };
      const autoscaled = same.replace('scale: 2,', 'autoscale: { min: 1, max: 4 },');
      assert.deepEqual(planApply(grown, services(autoscaled), catalog).items, []);
      const wider = planApply(grown, services(autoscaled.replace('max: 4', 'max: 6')), catalog).items;
      assert.deepEqual(
        wider.map((i) => [i.target, i.from, i.to]),
        [['service api', { autoscale: bounds }, { autoscale: { ...bounds, max: 6 } }]],
      );
      // A fixed scale in place of autoscaling: no bounds, and the number of gears.
      assert.deepEqual(planApply(grown, services(same), catalog).items[0].to, { autoscale: null, scale: 2 });
    });

    it('keeps a scale set by hand, and lists the services of a new app', () => {
      const scaled = { ...withServices, services: { ...withServices.services, api: { ...withServices.services!.api, scale: 5, scaled: true } } };
      assert.deepEqual(planApply(scaled, services(same), catalog).items, []);
      assert.deepEqual(
        planApply(null, services(same), catalog).items.map((i) => `${i.action} ${i.target}`),
        ['create app shop', 'add env GREETING', 'add service api', 'add service jobs', 'add service prices', 'add service old'],
      );
    });
  });

  describe('cron entries', () => {
    const serving: AppState = {
      ...current,
      cron: [
        { schedule: '*/5 * * * *', command: 'node tick.js' },
        { schedule: '0 3 * * *', command: 'node prune.js', process: 'worker' },
        { schedule: '@hourly', command: 'node report.js' },
      ],
    };
    const cron = (text: string) => file(`cron:\n${text}`);
    const same = `  - { schedule: "*/5 * * * *", command: node tick.js, process: web }
  - { schedule: "0 3 * * *", command: node prune.js, process: worker }
  - { schedule: "@hourly", command: node report.js }
`;

    it('lists nothing for entries the release that serves runs as the file says', () => {
      assert.deepEqual(planApply(serving, cron(same), catalog).items, []);
    });

    it('lists entries changed, added and removed, each saying what differs and that the next push brings it', () => {
      const d = cron(
        same
          .replace('"*/5 * * * *"', '"*/10 * * * *"')
          .replace('process: worker', 'process: web')
          .replace(/ {2}- \{ schedule: "@hourly".*\n/, '  - { schedule: "@daily", command: node backup.js }\n'),
      );
      const { items, refusals } = planApply(serving, d, catalog);
      assert.deepEqual(refusals, []);
      assert.deepEqual(
        items.map((i) => `${i.action} ${i.target}`),
        ['change cron node tick.js', 'change cron node prune.js', 'add cron node backup.js', 'remove cron node report.js'],
      );
      assert.deepEqual([items[0].from, items[0].to], [{ schedule: '*/5 * * * *' }, { schedule: '*/10 * * * *' }]);
      assert.equal(items[0].reason, 'its schedule */5 * * * * → */10 * * * *: the next push of the code schedules it so');
      assert.equal(items[1].reason, 'its process worker → web: the next push of the code schedules it so');
      assert.equal(items[2].reason, 'a cron entry in the file (@daily): the next push of the code schedules it');
      assert.match(items[3].reason, /^in the release that serves \(@hourly\), not in the file: the next push of the code stops scheduling it$/);
    });

    it('lists the entries of a new app, and of an app without a release yet', () => {
      assert.deepEqual(
        planApply(null, cron(same), catalog).items.map((i) => `${i.action} ${i.target}`),
        ['create app shop', 'add env GREETING', 'add cron node tick.js', 'add cron node prune.js', 'add cron node report.js'],
      );
      assert.deepEqual(
        planApply(current, cron(same), catalog).items.map((i) => i.action),
        ['add', 'add', 'add'],
      );
    });
  });
});
