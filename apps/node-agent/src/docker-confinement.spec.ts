import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LABELS, RESTRICTED_SECURITY, specHash, type GearSpec } from '@gearshift/cartridges';
import { gearContainerOptions, type CreateContainerOptions } from './docker.adapter';
import { runOnceContainerOptions } from './docker-exec';
import { buildCpuOptions, confinementHostConfig } from './docker-confinement';
import { buildLimits } from './builder';
import { isEmptyPlan, planConverge } from './reconcile';

const gear: CreateContainerOptions = {
  name: 'gs-app-dom-postgresql-15-abcd1234',
  image: 'gearshift/postgresql-15:0123456789abcdef',
  hostname: 'postgresql-15-abcd1234',
  env: { A: '1' },
  labels: { 'gearshift.gear': 'g1' },
  ports: [{ containerPort: 5432, publish: true }],
  volumes: [{ name: 'gs-app-postgresql-15-data', path: '/var/lib/gearshift/postgresql' }],
  network: 'gs-net',
  aliases: ['postgresql-15'],
  publishIp: '127.0.0.1',
  memoryMb: 256,
  cpus: 0.5,
  pids: 512,
  security: { capabilities: ['CHOWN', 'SETUID'], readOnlyRootFilesystem: true, tmpfs: ['/run/postgresql', '/tmp'] },
};

describe('the confinement of containers', () => {
  it("gives a gear exactly its limits, no capability but its cartridge's, no new privileges and its root and tmpfs", () => {
    assert.deepEqual(gearContainerOptions(gear).HostConfig, {
      PortBindings: { '5432/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
      Memory: 256 * 1024 * 1024,
      MemorySwap: 256 * 1024 * 1024,
      NanoCpus: 500_000_000,
      PidsLimit: 512,
      CapDrop: ['ALL'],
      CapAdd: ['CHOWN', 'SETUID'],
      SecurityOpt: ['no-new-privileges:true'],
      ReadonlyRootfs: true,
      Tmpfs: { '/run/postgresql': 'rw,nosuid,nodev,mode=1777', '/tmp': 'rw,nosuid,nodev,mode=1777' },
      RestartPolicy: { Name: 'unless-stopped' },
      Init: true,
      Mounts: [{ Type: 'volume', Source: 'gs-app-postgresql-15-data', Target: '/var/lib/gearshift/postgresql' }],
      NetworkMode: 'gs-net',
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
    });
  });

  it("replaces the image's entrypoint and working directory only when the gear says so, an empty entrypoint with none", () => {
    const plain = gearContainerOptions(gear);
    assert.ok(!('Entrypoint' in plain) && !('WorkingDir' in plain));
    const set = gearContainerOptions({ ...gear, entrypoint: ['node'], command: ['server.js'], workingDir: '/srv/app' });
    assert.deepEqual([set.Entrypoint, set.Cmd, set.WorkingDir], [['node'], ['server.js'], '/srv/app']);
    assert.deepEqual(gearContainerOptions({ ...gear, entrypoint: [] }).Entrypoint, []);
  });

  it("mounts a gear's named volumes by name and gives each of its anonymous ones a volume of its own, filled from its image", () => {
    const mounts = gearContainerOptions({ ...gear, anonymousVolumes: ['/app/node_modules'] }).HostConfig!.Mounts;
    assert.deepEqual(mounts, [
      { Type: 'volume', Source: 'gs-app-postgresql-15-data', Target: '/var/lib/gearshift/postgresql' },
      { Type: 'volume', Source: '', Target: '/app/node_modules' },
    ]);
  });

  it('gives a named image (the restricted default) no capability at all and a writable root', () => {
    const h = gearContainerOptions({ ...gear, security: RESTRICTED_SECURITY }).HostConfig!;
    assert.deepEqual([h.CapDrop, h.CapAdd, h.SecurityOpt, h.ReadonlyRootfs, h.Tmpfs], [['ALL'], [], ['no-new-privileges:true'], false, {}]);
  });

  it('holds a deploy hook to memory, CPU and process limits and the same confinement as a gear', () => {
    const o = runOnceContainerOptions({
      name: 'gs-release-1',
      image: 'registry/app:1',
      command: ['sh', '-c', 'migrate'],
      env: {},
      labels: {},
      network: 'gs-net',
      timeoutMs: 1000,
      onLine: () => undefined,
      memoryMb: 512,
      cpus: 2,
      pids: 2048,
      security: RESTRICTED_SECURITY,
    });
    assert.deepEqual(o.HostConfig, {
      Memory: 512 * 1024 * 1024,
      MemorySwap: 512 * 1024 * 1024,
      NanoCpus: 2_000_000_000,
      PidsLimit: 2048,
      CapDrop: ['ALL'],
      CapAdd: [],
      SecurityOpt: ['no-new-privileges:true'],
      ReadonlyRootfs: false,
      Tmpfs: {},
      NetworkMode: 'gs-net',
    });
  });

  it('does not share the capability list it was given', () => {
    const security = { capabilities: ['CHOWN' as const], readOnlyRootFilesystem: false, tmpfs: [] };
    const h = confinementHostConfig({ memoryMb: 64, cpus: 1, pids: 64, security });
    h.CapAdd!.push('SYS_ADMIN');
    assert.deepEqual(security.capabilities, ['CHOWN']);
  });

  it("limits a build's CPU by quota, and takes the largest gear size's CPU and processes when the job names none", () => {
    assert.deepEqual(buildCpuOptions(1.5), { cpuperiod: 100_000, cpuquota: 150_000 });
    assert.deepEqual(buildCpuOptions(undefined), {});
    assert.deepEqual(buildLimits({ limits: { memoryMb: 1024, timeoutSeconds: 60 } }), { memoryMb: 1024, cpus: 2, pids: 2048 });
    assert.deepEqual(buildLimits({ limits: { memoryMb: 1024, timeoutSeconds: 60, cpus: 1, pids: 100 } }), { memoryMb: 1024, cpus: 1, pids: 100 });
  });

  it('replaces, once, a gear that runs without the confinement its spec now carries', () => {
    const before: GearSpec = {
      gearId: 'g1',
      appId: 'a1',
      app: 'shop',
      domain: 'acme',
      cartridge: 'postgresql-15',
      web: false,
      image: { build: { cartridge: 'postgresql-15', hash: 'abc' } },
      containerName: 'gs-shop-acme-postgresql-15-g1',
      network: 'gs-net',
      hostname: 'postgresql-15-g1',
      aliases: ['postgresql-15'],
      env: {},
      ports: [],
      volumes: [],
      resources: { memoryMb: 256, cpus: 0.5, pids: 512 },
      health: { kind: 'none', timeoutSeconds: 5 },
      running: true,
      generation: 0,
    };
    const hardened: GearSpec = { ...before, security: { capabilities: [], readOnlyRootFilesystem: true, tmpfs: ['/run/postgresql', '/tmp'] } };
    assert.notEqual(specHash(hardened), specHash(before));
    const running = (s: GearSpec) => ({
      id: 'c1',
      name: 'c1',
      state: 'running',
      publishedPorts: {},
      addresses: {},
      labels: { [LABELS.gear]: 'g1', [LABELS.app]: 'a1', [LABELS.specHash]: specHash(s) },
    });
    const plan = planConverge([hardened], { containers: [running(before)], networks: ['gs-net'], volumes: [] });
    assert.deepEqual(
      plan.actions.map((a) => a.kind),
      ['replace'],
    );
    assert.ok(isEmptyPlan(planConverge([hardened], { containers: [running(hardened)], networks: ['gs-net'], volumes: [] })));
  });
});
