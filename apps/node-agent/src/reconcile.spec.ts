import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LABELS, specHash, type GearSpec } from '@gearshift/cartridges';
import type { ObservedContainer } from './docker.adapter';
import { isEmptyPlan, planConverge, settlesFirst, startPrerequisites } from './reconcile';

const APP = 'a0000000-0000-4000-8000-000000000000';

function spec(gearId: string, over: Partial<GearSpec> = {}): GearSpec {
  return {
    gearId,
    appId: APP,
    app: 'shop',
    domain: 'acme',
    cartridge: over.web === false ? 'postgresql-15' : 'nodejs-18',
    web: true,
    image: { build: { cartridge: 'nodejs-18', hash: 'abc' } },
    containerName: `gs-shop-acme-${gearId}`,
    network: 'gs-net',
    hostname: gearId,
    aliases: ['nodejs-18'],
    env: { A: '1' },
    ports: [{ name: 'http', containerPort: 8080, protocol: 'http', publish: true }],
    volumes: [],
    resources: { memoryMb: 256, cpus: 0.5, pids: 512 },
    health: { kind: 'none', timeoutSeconds: 5 },
    running: true,
    generation: 0,
    ...over,
  };
}

function container(id: string, s: GearSpec, state = 'running', hash = specHash(s)): ObservedContainer {
  return { id, name: id, state, publishedPorts: {}, addresses: {}, labels: { [LABELS.gear]: s.gearId, [LABELS.app]: APP, [LABELS.specHash]: hash } };
}

const kinds = (p: ReturnType<typeof planConverge>) => p.actions.map((a) => `${a.kind}:${'spec' in a ? a.spec.gearId : a.containerId}`);

describe('planConverge', () => {
  it('does nothing when every gear runs as specified', () => {
    const web = spec('w1');
    const plan = planConverge([web], { containers: [container('c1', web)], networks: ['gs-net'], volumes: [] });
    assert.ok(isEmptyPlan(plan), JSON.stringify(plan));
  });

  it('creates the network, the volume and a missing gear, services before web gears', () => {
    const web = spec('w1');
    const db = spec('d1', { web: false, volumes: [{ name: 'vol-d1', path: '/data' }] });
    const plan = planConverge([web, db], { containers: [], networks: [], volumes: [] });
    assert.deepEqual(kinds(plan), ['create:d1', 'create:w1']);
    assert.deepEqual(plan.ensureNetworks, ['gs-net']);
    assert.deepEqual(plan.ensureVolumes, ['vol-d1']);
    assert.deepEqual(plan.removeNetworks, []);
  });

  it('keeps the containers of gears whose start order alone changed', () => {
    const jobs = spec('j1', { web: false, service: 'jobs' });
    const plan = planConverge([{ ...jobs, waitsFor: ['prices'] }], { containers: [container('c1', jobs)], networks: ['gs-net'], volumes: [] });
    assert.ok(isEmptyPlan(plan), JSON.stringify(plan));
  });

  it('replaces a container whose spec changed', () => {
    const web = spec('w1');
    const plan = planConverge([{ ...web, env: { A: '2' } }], { containers: [container('c1', web)], networks: ['gs-net'], volumes: [] });
    assert.deepEqual(kinds(plan), ['replace:w1']);
  });

  it('replaces a container when a restart bumped the generation', () => {
    const web = spec('w1');
    const plan = planConverge([{ ...web, generation: 1 }], { containers: [container('c1', web)], networks: ['gs-net'], volumes: [] });
    assert.deepEqual(kinds(plan), ['replace:w1']);
  });

  it('starts a stopped gear that should run, and stops a running gear that should not', () => {
    const a = spec('w1');
    const b = spec('w2', { running: false });
    const plan = planConverge([a, b], { containers: [container('c1', a, 'exited'), container('c2', b, 'running')], networks: ['gs-net'], volumes: [] });
    assert.deepEqual(kinds(plan).sort(), ['start:w1', 'stop:w2']);
  });

  it('leaves a stopped gear stopped', () => {
    const a = spec('w1', { running: false });
    assert.ok(isEmptyPlan(planConverge([a], { containers: [container('c1', a, 'exited')], networks: ['gs-net'], volumes: [] })));
  });

  it('is not confused by the running flag: stopping does not change the spec hash', () => {
    const a = spec('w1');
    assert.equal(specHash(a), specHash({ ...a, running: false }));
  });

  it('removes containers of gears that are no longer desired, and duplicates of a gear', () => {
    const a = spec('w1');
    const gone = spec('w9');
    const plan = planConverge([a], {
      containers: [container('c1', a), container('c1-copy', a, 'running', 'stale'), container('c9', gone)],
      networks: ['gs-net'],
      volumes: [],
    });
    assert.deepEqual(kinds(plan).sort(), ['remove:c1-copy', 'remove:c9']);
  });

  it('removes everything, network and volumes included, when no gear is desired', () => {
    const db = spec('d1', { web: false });
    const plan = planConverge([], { containers: [container('c1', db)], networks: ['gs-net'], volumes: ['vol-d1'] });
    assert.deepEqual(kinds(plan), ['remove:c1']);
    assert.deepEqual(plan.removeNetworks, ['gs-net']);
    assert.deepEqual(plan.removeVolumes, ['vol-d1']);
  });

  it('removes the volume of a cartridge taken out of the app, and keeps the others', () => {
    const web = spec('w1');
    const plan = planConverge([web], { containers: [container('c1', web)], networks: ['gs-net'], volumes: ['vol-d1'] });
    assert.deepEqual(plan.removeVolumes, ['vol-d1']);
    assert.deepEqual(plan.actions, []);
  });

  it('plans the same exact steps for a job delivered twice before anything ran', () => {
    const web = spec('w1');
    const observed = { containers: [container('c1', web, 'exited')], networks: [], volumes: [] };
    const expected = {
      ensureNetworks: ['gs-net'],
      ensureVolumes: [],
      actions: [{ kind: 'start', spec: web, containerId: 'c1' }],
      removeNetworks: [],
      removeVolumes: [],
    };
    assert.deepEqual(planConverge([web], observed), expected);
    assert.deepEqual(planConverge([web], observed), expected, 'the second delivery plans exactly the same');
  });
});

describe('startPrerequisites', () => {
  const db = spec('db', { web: false, cartridge: 'postgresql-17' });
  const cache = spec('cache', { web: false, cartridge: 'valkey-8' });
  const internal = spec('internal', { web: false, service: 'internal' });
  // Workers listen on no port.
  const worker = spec('worker', { web: false, service: 'worker', waitsFor: ['postgresql-17', 'valkey-8'], ports: [] });
  const mailer = spec('mailer', { web: false, service: 'mailer', ports: [] });
  const api = spec('api', { service: 'api', waitsFor: ['postgresql-17', 'valkey-8', 'internal'] });

  it('starts the services of a release together, and the web service once those it reaches are healthy', () => {
    // A first release: the cartridges' gears run already; the release's services start, the workers beside the web one.
    assert.deepEqual(startPrerequisites([internal, worker, mailer, api]), [[], [], [], [0]]);
  });

  it('starts the cartridges first, then every service (a service finds its database), then the web gears', () => {
    assert.deepEqual(startPrerequisites([db, cache, internal, mailer, api]), [[], [], [0, 1], [0, 1], [0, 1, 2]]);
  });

  it('holds a web gear for a worker it names, as any gear it names', () => {
    const front = spec('front', { service: 'front', waitsFor: ['mailer'] });
    assert.deepEqual(startPrerequisites([mailer, front]), [[], [0]]);
  });

  describe('beside the gears of the release before, left serving', () => {
    const old = (s: GearSpec) => ({ ...s, gearId: `${s.gearId}-old` });

    it('waits for what it names through its serving gear, and starts beside its new gears', () => {
      // The rollout of a push: every service's new gear beside its old one, the cartridges' gears untouched.
      const serving = [db, cache, internal, worker, mailer, api].map(old);
      // Indexes past the four started gears are the serving ones: db 4, cache 5, internal 6, worker 7, mailer 8, api 9.
      assert.deepEqual(startPrerequisites([internal, worker, mailer, api], serving), [[], [4, 5], [], [4, 5, 6]]);
    });

    it("waits for a service's new gears when it has no serving gear (a service the release adds)", () => {
      assert.deepEqual(startPrerequisites([internal, api], [db, cache].map(old)), [[], [0, 2, 3]]);
    });

    it('waits for a database it left running, as for one it starts, but a service does not (the tiers alone)', () => {
      assert.deepEqual(startPrerequisites([internal, spec('web', { cartridge: 'nodejs-24' })], [old(db)]), [[], [0, 2]]);
    });

    it('never waits for a serving worker it does not name, nor for a serving web gear', () => {
      assert.deepEqual(startPrerequisites([api], [old(mailer), old(api)]), [[]]);
    });

    it('starts nothing before anything when nothing waits (the does-nothing case)', () => {
      assert.deepEqual(startPrerequisites([], [db, internal].map(old)), []);
    });
  });

  it('keeps the order a service names among services of its tier', () => {
    const reports = spec('reports', { web: false, service: 'reports', waitsFor: ['internal'] });
    const front = spec('front', { service: 'front', waitsFor: ['api'] });
    assert.deepEqual(startPrerequisites([reports, internal, front, api]), [[1], [], [0, 1, 3], [0, 1]]);
  });

  it('waits for every gear of a service that runs several', () => {
    const second = spec('internal-2', { web: false, service: 'internal' });
    const reports = spec('reports', { web: false, service: 'reports', waitsFor: ['internal'] });
    assert.deepEqual(startPrerequisites([internal, second, reports]), [[], [], [0, 1]]);
  });

  it('never makes a service wait for a web gear (those start last), nor for what is not started', () => {
    const hook = spec('hook', { web: false, service: 'hook', waitsFor: ['api', 'redis-7'] });
    assert.deepEqual(startPrerequisites([hook, api]), [[], [0]]);
  });

  it('falls back to the tiers when the names wait for each other in a circle', () => {
    const a = spec('a', { web: false, service: 'a', waitsFor: ['b'] });
    const b = spec('b', { web: false, service: 'b', waitsFor: ['a'] });
    assert.deepEqual(startPrerequisites([db, a, b]), [[], [0], [0]]);
  });

  it('starts nothing before anything when nothing waits (the does-nothing case)', () => {
    assert.deepEqual(startPrerequisites([]), []);
    assert.deepEqual(startPrerequisites([db, cache]), [[], []]);
  });
});

describe('settlesFirst', () => {
  const db = spec('db', { web: false, cartridge: 'postgresql-17' });
  const tcp = { kind: 'tcp', port: 5000, timeoutSeconds: 30 } as const;
  const internal = spec('internal', { web: false, service: 'internal', health: tcp });
  const worker = spec('worker', { web: false, service: 'worker', waitsFor: ['postgresql-17'], ports: [] });
  const mailer = spec('mailer', { web: false, service: 'mailer', ports: [] });
  const api = spec('api', { service: 'api', waitsFor: ['postgresql-17', 'internal'], health: { kind: 'http', port: 8080, path: '/', timeoutSeconds: 30 } });
  const first = (specs: GearSpec[], serving: GearSpec[] = []) => settlesFirst(specs, startPrerequisites(specs, serving));

  it('starts the workers of a rollout first, those waiting only for gears left serving included', () => {
    const old = (s: GearSpec) => ({ ...s, gearId: `${s.gearId}-old` });
    assert.deepEqual(first([internal, worker, mailer, api], [db, internal, worker, mailer, api].map(old)), [1, 2]);
  });

  it('leaves in its turn a worker that waits for a gear the pass starts: a service it names, a new database', () => {
    const reports = spec('reports', { web: false, service: 'reports', waitsFor: ['internal'], ports: [] });
    assert.deepEqual(first([internal, reports, mailer]), [2]);
    assert.deepEqual(first([db, worker, mailer, api]), []);
  });

  it('counts a Procfile worker, but neither a gear with a check of its own nor a web gear without one', () => {
    const procfileWorker = spec('jobs', { web: false, process: 'worker', ports: [] });
    const bare = spec('bare', { cartridge: 'nodejs-24' });
    assert.deepEqual(first([bare, internal, procfileWorker]), [2]);
  });

  it('puts no worker first that is not to run, and none when there is none (the does-nothing case)', () => {
    assert.deepEqual(first([{ ...mailer, running: false }, api]), []);
    assert.deepEqual(first([]), []);
  });
});
