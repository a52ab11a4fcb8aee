import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  BROKER_JOB_NAMES,
  JOB_CONTRACT_VERSION,
  JobContractError,
  NODE_JOB_NAMES,
  contractMismatch,
  readBrokerJob,
  readNodeJob,
  stamp,
  type BrokerJobs,
  type GearSpec,
  type NodeJobs,
  type OperationJobName,
} from './jobs';

const gear: GearSpec = {
  gearId: 'g1',
  appId: 'a1',
  app: 'shop',
  domain: 'acme',
  cartridge: 'nodejs-18',
  web: true,
  image: { build: { cartridge: 'nodejs-18', hash: 'abc' } },
  command: ['npm', 'start'],
  containerName: 'gs-shop-acme-g1',
  network: 'gs-shop-acme',
  hostname: 'g1',
  aliases: ['nodejs-18'],
  env: { PORT: '8080' },
  ports: [{ name: 'http', containerPort: 8080, protocol: 'http', publish: true }],
  volumes: [{ name: 'vol-g1', path: '/data' }],
  resources: { memoryMb: 256, cpus: 0.5, pids: 512 },
  health: { kind: 'http', port: 8080, path: '/health', status: 'any', timeoutSeconds: 30 },
  running: true,
  generation: 2,
};

/** One payload of every job, as the broker and the agents make them. */
const nodeJobs: { [N in keyof NodeJobs]: NodeJobs[N] } = {
  'app.converge': {
    operationId: 'op1',
    appId: 'a1',
    gears: [gear, { ...gear, gearId: 'g2', image: { ref: 'redis:7' }, health: { kind: 'tcp', port: 6379, timeoutSeconds: 5 } }],
    keepImages: ['shop:3'],
    drainMs: 0,
    after: { gearId: 'g1', command: ['sh', '-c', 'migrate'] },
  },
  'app.build': {
    operationId: 'op1',
    appId: 'a1',
    deploymentId: 'd1',
    sourceUrl: 'http://127.0.0.1:8080/source/x',
    base: { ref: 'gearshift/nodejs-18:abc' },
    recipe: { workdir: '/app', dependencies: ['package.json'], install: 'npm ci', hooks: { build: 'npm run build' } },
    tag: 'shop:3',
    push: false,
    labels: { 'gearshift.app': 'a1' },
    limits: { memoryMb: 1024, timeoutSeconds: 600 },
    release: { command: ['sh', '-c', 'migrate'], network: 'gs-shop-acme', env: { A: '1' } },
    secrets: ['hunter2'],
  },
  'app.snapshot': {
    operationId: 'op1',
    appId: 'a1',
    uploadUrl: 'http://127.0.0.1:8080/up',
    items: [
      { gearId: 'g1', cartridge: 'postgresql-15', file: 'pg.sql', method: { kind: 'exec', dump: ['pg_dump'], restore: ['psql'] } },
      { gearId: 'g2', cartridge: 'redis-7', file: 'redis.rdb', method: { kind: 'redis', port: 6379 } },
      { gearId: 'g3', cartridge: 'static', file: 'files.tar.gz', method: { kind: 'files', path: '/data' } },
    ],
    meta: { release: 3 },
  },
  'app.restore': { operationId: 'op1', appId: 'a1', sourceUrl: 'http://127.0.0.1:8080/down', items: [] },
  'app.writes': { operationId: 'op1', appId: 'a1', gearId: 'g1', cartridge: 'postgresql-15', allow: false, command: ['sh', '-c', 'true'] },
  'app.logs': { appId: 'a1', channel: 'logs.x', alive: 'logs.x.alive', tail: 100, follow: true },
  'app.run': {
    appId: 'a1',
    channel: 'run.x',
    alive: 'run.x.alive',
    image: 'shop:3',
    command: ['rake', 'db:migrate'],
    env: { A: '1' },
    network: 'gs-shop-acme',
    labels: { 'gearshift.role': 'run' },
    limits: { memoryMb: 1024, cpus: 2, pids: 1024 },
    timeoutSeconds: 600,
    secrets: [],
  },
  'app.exec': {
    appId: 'a1',
    gearId: 'g1',
    channel: 'run.x',
    alive: 'run.x.alive',
    command: ['sh'],
    timeoutSeconds: 600,
    secrets: [],
    tty: { cols: 80, rows: 24 },
    input: 'run.x:in',
  },
  'app.remove': { appId: '' },
  'node.ping': { sentAt: 1_700_000_000_000 },
  'node.fence': { gears: [{ gearId: 'g1', appId: 'a1', epoch: 2 }] },
  'node.gc': { at: 1_700_000_000_000, apps: ['a1'], keepImages: ['shop:3'], buildCacheMb: 2048, dryRun: true },
};

const report = {
  gearId: 'g1',
  appId: 'a1',
  state: 'running' as const,
  specHash: 'abc',
  containerId: 'c1',
  ports: { http: 32768 },
  inside: { address: '10.0.0.2', ports: { http: 8080 } },
};
const brokerJobs: { [N in keyof BrokerJobs]: BrokerJobs[N] } = {
  'app.wake': { appId: 'a1', host: 'shop-acme.localhost' },
  'node.heartbeat': { nodeId: 'n1', at: 1, capacity: { memoryMb: 4096, maxGears: 50, address: '127.0.0.1' }, gears: [report], memoryRssMb: 80 },
  'operation.report': {
    operationId: 'op1',
    nodeId: 'n1',
    appId: 'a1',
    phase: 'succeeded',
    at: 1,
    log: ['done'],
    result: { image: 'shop:3', dockerfile: 'recipe' },
    gears: [report],
  },
};

const refusal = (fn: () => unknown): JobContractError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof JobContractError) return err;
    throw err;
  }
  assert.fail('the job was taken');
};

describe('job contract', () => {
  it('lists every job of each map, read from the schemas', () => {
    assert.deepEqual([...NODE_JOB_NAMES].sort(), Object.keys(nodeJobs).sort());
    assert.deepEqual([...BROKER_JOB_NAMES].sort(), ['app.wake', 'node.heartbeat', 'operation.report']);
    // The jobs an operation dispatches are those whose payload names the operation.
    const operationJobs: Record<OperationJobName, true> = {
      'app.converge': true,
      'app.build': true,
      'app.snapshot': true,
      'app.restore': true,
      'app.writes': true,
      'app.remove': true,
    };
    assert.equal(Object.keys(operationJobs).length, 6);
  });

  it('takes every job as its sender makes it, and hands over the payload without the version', () => {
    for (const [name, data] of Object.entries(nodeJobs)) {
      assert.deepEqual(readNodeJob(name, stamp(data)), { name, data }, name);
    }
    for (const [name, data] of Object.entries(brokerJobs)) {
      assert.deepEqual(readBrokerJob(name, stamp(data)), { name, data }, name);
    }
  });

  it('refuses a payload that breaks the contract, naming each field and its rule', () => {
    const bad = stamp({
      ...nodeJobs['app.converge'],
      gears: [{ ...gear, ports: [{ name: 'http', containerPort: 0, protocol: 'udp', publish: true }], health: { kind: 'http', timeoutSeconds: 5 } }],
    });
    const err = refusal(() => readNodeJob('app.converge', bad));
    assert.equal(err.reason, 'payload');
    assert.deepEqual(
      err.violations.map((v) => `${v.pointer} ${v.rule}`),
      ['/gears/0/ports/0/containerPort minimum', '/gears/0/ports/0/protocol enum', '/gears/0/health/port required', '/gears/0/health/path required'],
    );
    assert.match(err.message, /^job app\.converge of the broker breaks job contract v2: \/gears\/0\/ports\/0\/containerPort must be >= 1 \(minimum\); /);

    const report = refusal(() => readBrokerJob('operation.report', stamp({ ...brokerJobs['operation.report'], phase: 'done', at: 'now' })));
    assert.deepEqual(
      report.violations.map((v) => `${v.pointer} ${v.rule}`),
      ['/phase enum', '/at type'],
    );
    assert.match(report.message, /^job operation\.report of the node agent breaks job contract v2: /);
    assert.equal(
      refusal(() => readNodeJob('node.ping', stamp({}))).message,
      'job node.ping of the broker breaks job contract v2: /sentAt is required (required)',
    );
  });

  it('refuses a job of another contract version, and says which side to upgrade', () => {
    const newer = refusal(() => readNodeJob('node.ping', { sentAt: 1, contractVersion: JOB_CONTRACT_VERSION + 1 }));
    assert.equal(newer.reason, 'version');
    assert.equal(
      newer.message,
      `the broker speaks job contract v${JOB_CONTRACT_VERSION + 1}; this node agent speaks v${JOB_CONTRACT_VERSION}: upgrade this node agent so that both speak the same version`,
    );
    const older = refusal(() => readBrokerJob('node.heartbeat', { ...brokerJobs['node.heartbeat'], contractVersion: 0 }));
    assert.equal(
      older.message,
      `the node agent speaks job contract v0; this broker speaks v${JOB_CONTRACT_VERSION}: upgrade the node agent so that both speak the same version`,
    );
    const none = refusal(() => readBrokerJob('app.wake', brokerJobs['app.wake']));
    assert.match(none.message, /^the router speaks job contract without a version \(older than v1\); this broker speaks v2: upgrade the router/);
    for (const data of [null, 'text', 42, [], { contractVersion: '1', sentAt: 1 }]) {
      assert.equal(refusal(() => readNodeJob('node.ping', data)).reason, 'version', JSON.stringify(data));
    }
  });

  it('refuses a name no map has, before looking at its payload', () => {
    const err = refusal(() => readNodeJob('constructor', stamp({})));
    assert.equal(err.reason, 'name');
    assert.equal(err.message, 'this node agent knows no job "constructor" in job contract v2');
    assert.equal(refusal(() => readBrokerJob('app.converge', stamp(nodeJobs['app.converge']))).reason, 'name');
  });

  it('says in the same words what the node registration answers', () => {
    assert.equal(
      contractMismatch('this node agent', 'the broker', 7),
      `this node agent speaks job contract v7; the broker speaks v${JOB_CONTRACT_VERSION}: upgrade the broker so that both speak the same version`,
    );
    assert.match(contractMismatch('this node agent', 'the broker', undefined), /without a version \(older than v1\).*upgrade this node agent/);
  });
});
