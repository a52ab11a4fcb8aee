import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LABELS, specHash, type GearSpec } from '@gearshift/cartridges';
import type { AgentConfig } from './config';
import type { CreateContainerOptions, DockerAdapter, ObservedContainer } from './docker.adapter';
import { GearOperator } from './gear-operator';

const INSTANCE = 'gst-unit';
const NODE = 'n0000000-0000-4000-8000-000000000000';
const APP = 'a0000000-0000-4000-8000-000000000000';

/** Docker as the agent's adapter sees it: a database gear that answers its check only after a few tries. */
class SlowDatabaseDocker {
  readonly containers: ObservedContainer[] = [];
  readonly calls: string[] = [];
  failingChecks = 3;

  async listContainers(labels: Record<string, string>) {
    return this.containers.filter((c) => Object.entries(labels).every(([k, v]) => c.labels[k] === v));
  }
  async listNetworks() {
    return [`${INSTANCE}-app`];
  }
  async listVolumes() {
    return [];
  }
  async imageExists() {
    return true;
  }
  async inspectImageNames(ref: string) {
    return { id: 'sha256:0', tags: [ref], digests: [] };
  }
  async createContainer(o: CreateContainerOptions) {
    this.calls.push(`create ${o.labels[LABELS.cartridge]}`);
    const id = `c${this.containers.length + 1}`;
    this.containers.push({ id, name: o.name, labels: o.labels, state: 'created', publishedPorts: {}, addresses: {} });
    return id;
  }
  async startContainer(id: string) {
    this.calls.push(`start ${id}`);
    this.containers.find((c) => c.id === id)!.state = 'running';
  }
  async inspectContainer(id: string) {
    const c = this.containers.find((x) => x.id === id)!;
    return { state: c.state, exitCode: 0, restartCount: 0, publishedPorts: {}, ip: {} };
  }
  async exec(id: string, command: string[]) {
    this.calls.push(`check ${id} ${command.join(' ')}`);
    return this.failingChecks-- > 0 ? { exitCode: 2, output: 'no response' } : { exitCode: 0, output: '' };
  }
  async logTail() {
    return '';
  }
}

function gear(name: string, web: boolean, health: GearSpec['health']): GearSpec {
  return {
    gearId: `${name}-gear`,
    appId: APP,
    app: 'shop',
    domain: 'acme',
    cartridge: name,
    web,
    image: { ref: `${name}:1` },
    containerName: `${INSTANCE}-${name}`,
    network: `${INSTANCE}-app`,
    hostname: name,
    aliases: [name],
    env: {},
    ports: [],
    volumes: [],
    resources: { memoryMb: 256, cpus: 0.5, pids: 512 },
    health,
    running: true,
    generation: 0,
  };
}

describe('GearOperator.converge', () => {
  it('holds a web gear until a database it left running passes its check (an agent that died after creating it)', async () => {
    const docker = new SlowDatabaseDocker();
    const config = { instance: INSTANCE, address: '127.0.0.1', dataDir: join(tmpdir(), 'gearshift-operator-spec') } as AgentConfig;
    const operator = new GearOperator(config, docker as unknown as DockerAdapter, NODE);
    const db = gear('postgresql', false, { kind: 'command', command: ['pg_isready'], timeoutSeconds: 5 });
    const web = gear('nodejs', true, { kind: 'none', timeoutSeconds: 5 });
    // What the agent that died left: the database's container, made from this very spec and running.
    const labels = {
      [LABELS.managedBy]: 'gearshift',
      [LABELS.instance]: INSTANCE,
      [LABELS.node]: NODE,
      [LABELS.app]: APP,
      [LABELS.gear]: db.gearId,
      [LABELS.cartridge]: db.cartridge,
    };
    docker.containers.push({
      id: 'db1',
      name: db.containerName,
      labels: { ...labels, [LABELS.specHash]: specHash(db) },
      state: 'running',
      publishedPorts: {},
      addresses: {},
    });
    const steps: string[] = [];

    await operator.converge(APP, [db, web], async (text) => void steps.push(text));

    // Its container is made meanwhile; it starts once the database passed.
    assert.deepEqual(docker.calls, [
      'create nodejs',
      'check db1 pg_isready',
      'check db1 pg_isready',
      'check db1 pg_isready',
      'check db1 pg_isready',
      'start c2',
    ]);
    assert.ok(!steps.some((s) => s.includes('postgresql')), `no step for the database this pass left alone: ${steps.join(' | ')}`);
  });
});

describe('GearOperator: a gear withdrawn while its job is at work', () => {
  it('starts no gear the broker fenced after the job was sent (its operation was cancelled), and starts the others', async () => {
    const docker = new SlowDatabaseDocker();
    docker.failingChecks = 1;
    const config = { instance: INSTANCE, address: '127.0.0.1', dataDir: join(tmpdir(), 'gearshift-operator-spec') } as AgentConfig;
    const operator = new GearOperator(config, docker as unknown as DockerAdapter, NODE);
    const db = gear('postgresql', false, { kind: 'command', command: ['pg_isready'], timeoutSeconds: 5 });
    const web = gear('nodejs', true, { kind: 'none', timeoutSeconds: 5 });
    const other = { ...gear('nodejs', true, { kind: 'none', timeoutSeconds: 5 }), gearId: 'other-gear', containerName: `${INSTANCE}-other` };
    // The cancellation's fence arrives while the job waits for the database: the web gear is gone from the app.
    const check = docker.exec.bind(docker);
    docker.exec = async (id: string, command: string[]) => {
      operator.held.raise(web.gearId, 2 ** 31 - 1);
      return check(id, command);
    };
    const steps: string[] = [];

    await operator.converge(APP, [db, web, other], async (text) => void steps.push(text), { epochs: { [db.gearId]: 3, [web.gearId]: 3, 'other-gear': 3 } });

    const state = (gearId: string) => docker.containers.filter((c) => c.labels[LABELS.gear] === gearId).map((c) => c.state);
    assert.notDeepEqual(state(web.gearId), ['running']);
    assert.deepEqual(state(db.gearId), ['running']);
    assert.deepEqual(state('other-gear'), ['running']);
    assert.ok(
      steps.some((s) => /^not starting .*: the broker has withdrawn it/.test(s)),
      steps.join(' | '),
    );
  });

  it('does not even create a gear fenced before its turn came', async () => {
    const docker = new SlowDatabaseDocker();
    const config = { instance: INSTANCE, address: '127.0.0.1', dataDir: join(tmpdir(), 'gearshift-operator-spec') } as AgentConfig;
    const operator = new GearOperator(config, docker as unknown as DockerAdapter, NODE);
    const web = gear('nodejs', true, { kind: 'none', timeoutSeconds: 5 });
    const steps: string[] = [];
    // Raised by the fence after the job's own epochs were taken in: as a job already holding the app's turn sees it.
    const raise = operator.held.raise.bind(operator.held);
    operator.held.raise = (gearId: string, epoch: number) => {
      raise(gearId, epoch);
      if (epoch === 3) raise(gearId, 2 ** 31 - 1);
    };

    await operator.converge(APP, [web], async (text) => void steps.push(text), { epochs: { [web.gearId]: 3 } });

    assert.deepEqual(docker.calls, []);
    assert.deepEqual(docker.containers, []);
    assert.ok(
      steps.some((s) => s.startsWith('not starting')),
      steps.join(' | '),
    );
  });
});

describe('GearOperator: a database restarted in place', () => {
  it('says that the app is without it until it is back, and how long that took', async () => {
    const docker = new SlowDatabaseDocker();
    docker.failingChecks = 1;
    const removed: string[] = [];
    Object.assign(docker, {
      stopContainer: async (id: string) => void (docker.containers.find((c) => c.id === id)!.state = 'exited'),
      removeContainer: async (id: string) => {
        removed.push(id);
        docker.containers.splice(
          docker.containers.findIndex((c) => c.id === id),
          1,
        );
      },
      ensureVolume: async () => undefined,
    });
    const config = { instance: INSTANCE, address: '127.0.0.1', dataDir: join(tmpdir(), 'gearshift-operator-spec') } as AgentConfig;
    const operator = new GearOperator(config, docker as unknown as DockerAdapter, NODE);
    const db = { ...gear('postgresql', false, { kind: 'command', command: ['pg_isready'], timeoutSeconds: 5 }), volumes: [{ name: 'data', path: '/data' }] };
    // The database as it ran before the restart: an older generation of the same gear.
    docker.containers.push({
      id: 'db1',
      name: db.containerName,
      labels: {
        [LABELS.managedBy]: 'gearshift',
        [LABELS.instance]: INSTANCE,
        [LABELS.node]: NODE,
        [LABELS.app]: APP,
        [LABELS.gear]: db.gearId,
        [LABELS.cartridge]: db.cartridge,
        [LABELS.specHash]: specHash({ ...db, generation: 0 }),
      },
      state: 'running',
      publishedPorts: {},
      addresses: {},
    });
    const steps: string[] = [];

    await operator.converge(APP, [{ ...db, generation: 1 }], async (text) => void steps.push(text));

    assert.deepEqual(removed, ['db1']);
    assert.ok(
      steps.includes(
        "restarting gear postgresql postgres in place (it runs once, on its own volume): until it is back, what the app asks of it fails; that is the app's own downtime",
      ),
      steps.join(' | '),
    );
    assert.ok(
      steps.some((t) => /^gear postgresql postgres is back after \d+\.\d s$/.test(t)),
      steps.join(' | '),
    );
  });
});

describe('GearOperator.converge beside an older release', () => {
  it('starts a web gear at once beside workers that have run for a while: their running time counts, side by side', async () => {
    const docker = new SlowDatabaseDocker();
    const started = Date.now() - 60_000;
    docker.inspectContainer = async (id: string) => {
      const c = docker.containers.find((x) => x.id === id)!;
      return { state: c.state, exitCode: 0, restartCount: 0, publishedPorts: {}, ip: {}, ...(c.id.startsWith('old') ? { startedAt: started } : {}) };
    };
    const config = { instance: INSTANCE, address: '127.0.0.1', dataDir: join(tmpdir(), 'gearshift-operator-spec') } as AgentConfig;
    const operator = new GearOperator(config, docker as unknown as DockerAdapter, NODE);
    const workers = ['jobs', 'mailer'].map((name) => ({ ...gear(name, false, { kind: 'none', timeoutSeconds: 60 }), service: name }));
    const web = { ...gear('nodejs', true, { kind: 'none', timeoutSeconds: 5 }), waitsFor: ['jobs', 'mailer'] };
    for (const w of workers) {
      const labels = { [LABELS.managedBy]: 'gearshift', [LABELS.instance]: INSTANCE, [LABELS.node]: NODE, [LABELS.app]: APP, [LABELS.gear]: w.gearId };
      docker.containers.push({
        id: `old-${w.service}`,
        name: w.containerName,
        labels: { ...labels, [LABELS.cartridge]: w.cartridge, [LABELS.specHash]: specHash(w) },
        state: 'running',
        publishedPorts: {},
        addresses: {},
      });
    }
    const t0 = Date.now();
    await operator.converge(APP, [...workers, web], async () => undefined);
    assert.deepEqual(docker.calls, ['create nodejs', 'start c3']);
    assert.ok(Date.now() - t0 < 2000, `the web gear waited ${Date.now() - t0} ms for workers that had settled long ago`);
  });
});

/** A worker whose process exits at once: Docker restarts it, so it is running at most looks, restarted between them. */
class CrashingWorkerDocker extends SlowDatabaseDocker {
  private looks = 0;
  override async inspectContainer(id: string) {
    return { ...(await super.inspectContainer(id)), restartCount: this.looks++ > 1 ? 1 : 0 };
  }
  override async logTail() {
    return 'Error: QUEUE is not set\n';
  }
}

describe('GearOperator: a worker service', () => {
  it('fails its start when it crashes and restarts, naming the service and what it printed', async () => {
    const docker = new CrashingWorkerDocker();
    const config = { instance: INSTANCE, address: '127.0.0.1', dataDir: join(tmpdir(), 'gearshift-operator-spec') } as AgentConfig;
    const operator = new GearOperator(config, docker as unknown as DockerAdapter, NODE);
    const worker = { ...gear('nodejs', false, { kind: 'none', timeoutSeconds: 60 }), gearId: '15d6efcf-worker', service: 'jobs' };
    const steps: string[] = [];
    await assert.rejects(
      operator.converge(APP, [worker], async (text) => void steps.push(text)),
      /service jobs, gear 15d6efcf did not keep running for 3 s: it exited and was restarted 1 time\(s\); it printed:\nError: QUEUE is not set/,
    );
    assert.ok(steps.includes('creating service jobs, gear 15d6efcf'), steps.join(' | '));
    assert.ok(steps.includes('waiting for service jobs, gear 15d6efcf to keep running for 3 s'), steps.join(' | '));
  });

  it('passes once it kept running for the settle time', async () => {
    const docker = new SlowDatabaseDocker();
    const config = { instance: INSTANCE, address: '127.0.0.1', dataDir: join(tmpdir(), 'gearshift-operator-spec') } as AgentConfig;
    const operator = new GearOperator(config, docker as unknown as DockerAdapter, NODE);
    const worker = { ...gear('nodejs', false, { kind: 'none', timeoutSeconds: 60 }), gearId: '15d6efcf-worker', service: 'jobs' };
    const steps: string[] = [];
    await operator.converge(APP, [worker], async (text) => void steps.push(text));
    assert.ok(
      steps.some((s) => /^service jobs, gear 15d6efcf is healthy \(kept running \d+ ms\)$/.test(s)),
      steps.join(' | '),
    );
  });
});

/** An Engine that starts one container after another, as dockerd does: each start takes its turn and its while. */
class OneStartAtATimeDocker extends SlowDatabaseDocker {
  private turn: Promise<void> = Promise.resolve();
  override async startContainer(id: string) {
    const mine = this.turn.then(async () => {
      const name = this.containers.find((c) => c.id === id)!.labels[LABELS.service] ?? 'web';
      this.calls.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, 20));
      this.containers.find((c) => c.id === id)!.state = 'running';
    });
    this.turn = mine;
    await mine;
  }
}

describe('GearOperator: the start of a release of several services', () => {
  it("starts its workers' containers first, and the others' behind them: the workers' settle time runs while those pass their checks", async () => {
    const docker = new OneStartAtATimeDocker();
    docker.failingChecks = 0;
    const config = { instance: INSTANCE, address: '127.0.0.1', dataDir: join(tmpdir(), 'gearshift-operator-spec') } as AgentConfig;
    const operator = new GearOperator(config, docker as unknown as DockerAdapter, NODE);
    const service = (name: string, web: boolean, health: GearSpec['health']) => ({ ...gear(name, web, health), service: name, hostname: name });
    const check: GearSpec['health'] = { kind: 'command', command: ['true'], timeoutSeconds: 5 };
    // In the order the planner gives them: the internal service and the workers, then the web service.
    const worker: GearSpec['health'] = { kind: 'none', timeoutSeconds: 60 };
    const specs = [service('internal', false, check), service('jobs', false, worker), service('mailer', false, worker), service('api', true, check)];
    const steps: string[] = [];

    await operator.converge(APP, specs, async (text) => void steps.push(text));

    const starts = docker.calls.filter((c) => c.startsWith('start '));
    assert.deepEqual(starts.slice(0, 2).sort(), ['start jobs', 'start mailer']);
    assert.deepEqual(starts.slice(2).sort(), ['start api', 'start internal']);
    // Every container was made before the first start ended: only the starts wait for the workers'.
    assert.equal(docker.calls.filter((c) => c.startsWith('create ')).length, 4);
    assert.ok(
      ['jobs', 'mailer'].every((w) =>
        steps.some((s) => new RegExp(`^service ${w}, gear ${`${w}-gear`.slice(0, 8)} is healthy \\(kept running \\d+ ms\\)$`).test(s)),
      ),
      steps.join(' | '),
    );
  });
});
