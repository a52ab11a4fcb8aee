import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UnrecoverableError } from 'bullmq';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  JOB_CONTRACT_VERSION,
  LABELS,
  makeNodeKeyPair,
  openNodeJob,
  sealNodeJob,
  stamp,
  type GearSpec,
  type HandlerMap,
  type NodeJobs,
} from '@gearshift/cartridges';
import type { AgentConfig } from './config';
import { checkName, DockerError, type CreateContainerOptions, type DockerAdapter, type ObservedContainer } from './docker.adapter';
import { GearOperator } from './gear-operator';
import { jobProcessor, type JobLike } from './worker';

/**
 * Poison jobs at the Docker boundary: a fake of the agent's DockerAdapter fails where it is told to, and the
 * processor must turn each failure into that job's outcome (retried or reported), never into the process's end.
 */
class FakeDocker {
  readonly containers: ObservedContainer[] = [];
  readonly calls: string[] = [];
  /** Method name → the error it throws. */
  readonly faults = new Map<string, Error>();
  readonly images = new Set<string>();

  private fault(method: string): void {
    this.calls.push(method);
    const err = this.faults.get(method);
    if (err) throw err;
  }

  async listContainers(labels: Record<string, string>) {
    this.fault('listContainers');
    return this.containers.filter((c) => Object.entries(labels).every(([k, v]) => c.labels[k] === v));
  }
  async listNetworks() {
    this.fault('listNetworks');
    return [];
  }
  async listVolumes() {
    this.fault('listVolumes');
    return [];
  }
  async listImages() {
    return [];
  }
  async imageExists(tag: string) {
    this.fault('imageExists');
    // What the real adapter does before a reference reaches the Engine.
    checkName('image', tag);
    return this.images.has(tag);
  }
  async inspectImageNames(tag: string) {
    return (await this.imageExists(tag)) ? { id: 'sha256:0', tags: [tag], digests: [] } : null;
  }
  async pullImage(ref: string) {
    this.fault('pullImage');
    this.images.add(ref);
  }
  inPlatformRegistry(ref: string) {
    return ref.startsWith('127.0.0.1:5000/');
  }
  async ensureNetwork() {
    this.fault('ensureNetwork');
  }
  async ensureVolume() {
    this.fault('ensureVolume');
  }
  async createContainer(o: CreateContainerOptions) {
    this.fault('createContainer');
    const id = `c${this.containers.length + 1}`;
    this.containers.push({ id, name: o.name, labels: o.labels, state: 'created', publishedPorts: {}, addresses: {} });
    return id;
  }
  async startContainer(id: string) {
    this.fault('startContainer');
    this.containers.find((c) => c.id === id)!.state = 'running';
  }
  async stopContainer(id: string) {
    this.fault('stopContainer');
    const c = this.containers.find((x) => x.id === id);
    if (c) c.state = 'exited';
  }
  async removeContainer(id: string) {
    this.fault('removeContainer');
    const i = this.containers.findIndex((c) => c.id === id);
    if (i >= 0) this.containers.splice(i, 1);
  }
  async removeNetwork() {}
  async removeVolume() {}
}

const config = {
  instance: 'gst-unit',
  address: '127.0.0.1',
  cartridgesDir: '/nonexistent',
  baseImage: 'base',
  trixieBaseImage: 'base-trixie',
  imageRepository: 'gearshift',
  dataDir: join(tmpdir(), 'gearshift-worker-spec'),
} as AgentConfig;
const NODE = 'n0000000-0000-4000-8000-000000000000';

function spec(appId: string, image: string): GearSpec {
  return {
    gearId: `${appId.slice(0, 8)}-gear`,
    appId,
    app: 'shop',
    domain: 'acme',
    cartridge: 'docker-image',
    web: true,
    image: { ref: image },
    containerName: `gst-unit-${appId.slice(0, 8)}`,
    network: `gst-unit-${appId.slice(0, 8)}`,
    hostname: 'web',
    aliases: ['web'],
    env: {},
    ports: [],
    volumes: [],
    resources: { memoryMb: 256, cpus: 0.5, pids: 512 },
    health: { kind: 'none', timeoutSeconds: 5 },
    running: true,
    generation: 0,
  };
}

function setup() {
  const docker = new FakeDocker();
  const operator = new GearOperator(config, docker as unknown as DockerAdapter, NODE);
  const reports: { operationId: string; error: string }[] = [];
  const logs: string[] = [];
  const step = async () => undefined;
  const handlers = {
    'app.converge': async (d: NodeJobs['app.converge']) => ({ gears: (await operator.converge(d.appId, d.gears, step)).length }),
    'app.remove': async (d: NodeJobs['app.remove']) => {
      await operator.removeApp(d.appId, step);
      return { removed: true };
    },
  } as unknown as HandlerMap<NodeJobs>;
  const process = jobProcessor({
    handlers,
    log: (l) => logs.push(l),
    reportFailure: async (job, err) => void reports.push({ operationId: (job.data as { operationId: string }).operationId, error: err.message }),
  });
  return { docker, process, reports, logs };
}

const converge = (appId: string, image: string, attemptsMade = 0): JobLike => ({
  name: 'app.converge',
  id: `op-${appId.slice(0, 4)}`,
  data: stamp({ operationId: `op-${appId.slice(0, 4)}`, appId, gears: [spec(appId, image)] }),
  attemptsMade,
  opts: { attempts: 5 },
});

const APP_A = 'a0000000-0000-4000-8000-000000000000';
const APP_B = 'b0000000-0000-4000-8000-000000000000';

describe('poison jobs at the Docker boundary', () => {
  it('ends a job whose image Docker cannot pull at once, with the reason, and serves the next job', async () => {
    const { docker, process, reports } = setup();
    docker.faults.set('pullImage', new DockerError('Get "https://images.invalid/v2/": dial tcp: lookup images.invalid: no such host', 500));
    await assert.rejects(process(converge(APP_A, 'images.invalid/app:1')), UnrecoverableError);
    assert.equal(reports.length, 1, 'reported on the first attempt: a retry cannot fix it');
    assert.match(reports[0].error, /image images\.invalid\/app:1 could not be pulled: .*no such host/);
    assert.equal(docker.containers.length, 0, 'nothing half-made');

    docker.faults.delete('pullImage');
    docker.images.add('127.0.0.1:5000/app:1');
    assert.deepEqual(await process(converge(APP_B, '127.0.0.1:5000/app:1')), { gears: 1 });
    assert.equal(docker.containers.filter((c) => c.labels[LABELS.app] === APP_B && c.state === 'running').length, 1);
  });

  it('refuses a reference Docker would answer with a redirect before it reaches Docker', async () => {
    const { docker, process, reports } = setup();
    await assert.rejects(process(converge(APP_A, 'file:///etc/passwd')), UnrecoverableError);
    assert.match(reports[0].error, /image file:\/\/\/etc\/passwd could not be pulled: .*empty or dot path segment/);
    assert.ok(!docker.calls.includes('pullImage'));
  });

  it('retries a transient Docker failure, and reports it with its reason on the last attempt', async () => {
    const { docker, process, reports, logs } = setup();
    const down = new Error('connect ECONNREFUSED /var/run/docker.sock');
    docker.faults.set('listContainers', down);
    await assert.rejects(process(converge(APP_A, 'x:1', 0)), (err: Error) => err === down && !(err instanceof UnrecoverableError));
    assert.equal(reports.length, 0, 'not reported while a retry may still succeed');
    assert.match(logs[0], /failed \(will retry\): connect ECONNREFUSED/);
    await assert.rejects(process(converge(APP_A, 'x:1', 4)), UnrecoverableError);
    assert.deepEqual(reports, [{ operationId: `op-${APP_A.slice(0, 4)}`, error: down.message }]);
  });

  it('leaves an app that failed half-way removable', async () => {
    const { docker, process, reports } = setup();
    docker.images.add('x:1');
    docker.faults.set('startContainer', new DockerError('(HTTP code 500) server error - OCI runtime create failed', 500));
    await assert.rejects(process(converge(APP_A, 'x:1', 4)), UnrecoverableError);
    assert.match(reports[0].error, /OCI runtime create failed/);
    assert.equal(docker.containers.length, 1, 'the container was made, not started');
    docker.faults.clear();
    assert.deepEqual(
      await process({ name: 'app.remove', id: 'rm', data: stamp({ operationId: 'rm', appId: APP_A }), attemptsMade: 0, opts: { attempts: 5 } }),
      { removed: true },
    );
    assert.equal(docker.containers.length, 0);
  });
});

describe('job deadline', () => {
  it('fails a job that hangs once its deadline passes, with the reason, and serves the next', async () => {
    const reports: string[] = [];
    let calls = 0;
    const handlers = {
      // The first call hangs as a Docker call that never answers would; the next answers.
      'node.ping': () => (calls++ === 0 ? new Promise(() => undefined) : Promise.resolve({ pong: true })),
    } as unknown as HandlerMap<NodeJobs>;
    const process = jobProcessor({ handlers, log: () => undefined, deadlineMs: 100, reportFailure: async (_job, err) => void reports.push(err.message) });
    const job = { name: 'node.ping', id: 'p', data: stamp({ sentAt: 1, operationId: 'op', appId: APP_A }), attemptsMade: 0, opts: { attempts: 5 } };
    await assert.rejects(process(job), UnrecoverableError);
    assert.deepEqual(reports, ['job node.ping did not finish within 0 s and was given up on']);
    assert.deepEqual(await process(job), { pong: true });
  });
});

describe('checkName', () => {
  it("passes what Docker's grammar allows", () => {
    for (const ok of ['nginx', 'nginx:1.25', '127.0.0.1:5000/team/api:1.0', 'registry.example.com/a/b@sha256:' + 'a'.repeat(64), 'gst-x-node1', '3f2a9c']) {
      assert.equal(checkName('image', ok), ok);
    }
  });

  it('refuses what the Engine would redirect or read as a URL, naming the rule', () => {
    const cases: [string, RegExp][] = [
      ['file:///etc/passwd', /empty or dot path segment/],
      ['a/../b', /empty or dot path segment/],
      ['a/./b', /empty or dot path segment/],
      ['a/', /empty or dot path segment/],
      ['http://x/y', /empty or dot path segment/],
      ['img?x=1', /may hold only/],
      ['img#frag', /may hold only/],
      ['%2e%2e/x', /may hold only/],
      ['', /is empty/],
      ['a'.repeat(600), /longer than 512/],
    ];
    for (const [bad, rule] of cases) {
      assert.throws(
        () => checkName('image', bad),
        (err: DockerError) => err.statusCode === 400 && rule.test(err.message),
        bad,
      );
    }
  });
});

describe('job contract on the agent', () => {
  it('refuses a job of another contract version before any work, says which side to upgrade, and serves the next', async () => {
    const { docker, process, reports, logs } = setup();
    const newer = { ...converge(APP_A, 'x:1'), data: { ...(converge(APP_A, 'x:1').data as object), contractVersion: JOB_CONTRACT_VERSION + 1 } };
    await assert.rejects(process(newer), (err: Error) => err instanceof UnrecoverableError && /upgrade this node agent/.test(err.message));
    assert.deepEqual(reports, [
      {
        operationId: `op-${APP_A.slice(0, 4)}`,
        error: `the broker speaks job contract v${JOB_CONTRACT_VERSION + 1}; this node agent speaks v${JOB_CONTRACT_VERSION}: upgrade this node agent so that both speak the same version`,
      },
    ]);
    assert.match(logs[0], /refused: the broker speaks job contract/);
    assert.deepEqual(docker.calls, [], 'nothing asked of Docker');

    const { contractVersion: _v, ...unversioned } = converge(APP_A, 'x:1').data as Record<string, unknown>;
    await assert.rejects(
      process({ ...converge(APP_A, 'x:1'), data: unversioned }),
      /the broker speaks job contract without a version \(older than v1\).*upgrade the broker/,
    );

    docker.images.add('x:1');
    assert.deepEqual(await process(converge(APP_B, 'x:1')), { gears: 1 });
  });

  it('fails a job whose payload breaks the contract with the field and the rule, on the first attempt', async () => {
    const { docker, process, reports } = setup();
    const job = converge(APP_A, 'x:1');
    const data = job.data as { gears: Record<string, unknown>[] };
    data.gears[0].resources = { memoryMb: '256', cpus: 0.5, pids: 512 };
    delete data.gears[0].network;
    await assert.rejects(process(job), UnrecoverableError);
    assert.equal(reports.length, 1);
    assert.equal(
      reports[0].error,
      'job app.converge of the broker breaks job contract v2: /gears/0/network is required (required); /gears/0/resources/memoryMb must be number (type)',
    );
    assert.deepEqual(docker.calls, []);
  });

  it('opens the secrets sealed for this node before the handler, and refuses a job whose secrets came in clear', async () => {
    const keys = makeNodeKeyPair();
    const got: NodeJobs['app.converge'][] = [];
    const reports: string[] = [];
    const process = jobProcessor({
      handlers: { 'app.converge': async (d: NodeJobs['app.converge']) => void got.push(d) } as unknown as HandlerMap<NodeJobs>,
      log: () => undefined,
      reportFailure: async (_job, err) => void reports.push(err.message),
      open: (job) => ({ name: job.name, data: openNodeJob(job.name, job.data as never, keys.privateKey) }) as typeof job,
    });
    const clear: NodeJobs['app.converge'] = { operationId: 'op', appId: APP_A, gears: [{ ...spec(APP_A, 'x:1'), env: { PASSWORD: 'hunter2' } }] };
    await process({ ...converge(APP_A, 'x:1'), data: stamp(sealNodeJob('app.converge', clear, keys.publicKey)) });
    assert.deepEqual(got, [clear], 'the handler sees the values opened');

    await assert.rejects(
      process({ ...converge(APP_A, 'x:1'), data: stamp(clear) }),
      (err: Error) => err instanceof UnrecoverableError && /env PASSWORD of gear \S+ came in clear/.test(err.message),
    );
    const other = makeNodeKeyPair();
    await assert.rejects(
      process({ ...converge(APP_A, 'x:1'), data: stamp(sealNodeJob('app.converge', clear, other.publicKey)) }),
      (err: Error) => err instanceof UnrecoverableError && /does not open with this node's key/.test(err.message),
    );
    assert.equal(got.length, 1, 'no handler ran for the refused jobs');
    assert.equal(reports.length, 2);
    assert.ok(!reports.join('').includes('hunter2'), 'no report repeats the value');
  });

  it('refuses a job name the contract does not have', async () => {
    const { process, reports } = setup();
    await assert.rejects(
      process({ name: 'app.explode', id: 'x', data: stamp({ operationId: 'op', appId: APP_A }), attemptsMade: 0, opts: {} }),
      /this node agent knows no job "app.explode"/,
    );
    assert.equal(reports.length, 1);
  });
});
