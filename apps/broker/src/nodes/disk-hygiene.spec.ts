import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DiskHygieneService } from './disk-hygiene.service';
import type { AppsRepository } from '../apps/apps.repository';
import type { DeploymentsRepository } from '../apps/deployments.repository';
import type { BrokerConfig } from '../config';
import type { UnitOfWork } from '../database/unit-of-work';
import type { NodesRepository } from '../fleet/nodes.repository';
import type { QueueService } from '../queue/queue.service';
import type { User } from '../users/user.entity';

function service(lockFree: boolean) {
  const sent: { nodeId: string; name: string; data: Record<string, unknown>; jobId?: string }[] = [];
  const apps = { ids: async () => ['a1', 'a2'] } as unknown as AppsRepository;
  const deployments = { keptImages: async () => ['reg/a1:2'] } as unknown as DeploymentsRepository;
  const nodes = {
    all: async () => [{ id: 'n1' }, { id: 'n2' }],
    findById: async () => null,
    findByName: async () => null,
  } as unknown as NodesRepository;
  const queue = {
    send: async (nodeId: string, name: string, data: Record<string, unknown>, jobId?: string) => void sent.push({ nodeId, name, data, jobId }),
  } as unknown as QueueService;
  const uow = { runIfFree: async <T>(_lock: string, work: () => Promise<T>) => (lockFree ? work() : undefined) } as unknown as UnitOfWork;
  const config = { gcHours: 24, buildCacheMb: 2048, gcGraceMinutes: 60 } as BrokerConfig;
  return { disk: new DiskHygieneService(apps, deployments, nodes, queue, uow, config), sent };
}

describe('disk hygiene on the nodes', () => {
  it('the broker holding the lock sends every node one gc job a day, with the apps and the images kept', async () => {
    const { disk, sent } = service(true);
    assert.equal(await disk.daily(), 2);
    assert.deepEqual(
      sent.map((s) => s.nodeId),
      ['n1', 'n2'],
    );
    const day = Math.floor(Date.now() / 86_400_000);
    assert.deepEqual(
      sent.map((s) => s.jobId),
      [`gc-${day}-n1`, `gc-${day}-n2`],
    );
    const { at, ...rest } = sent[0].data;
    assert.equal(typeof at, 'number');
    assert.deepEqual(rest, { apps: ['a1', 'a2'], keepImages: ['reg/a1:2'], buildCacheMb: 2048, graceMinutes: 60, dryRun: false });
  });

  it('a broker that does not get the lock sends nothing', async () => {
    const { disk, sent } = service(false);
    assert.equal(await disk.daily(), 0);
    assert.deepEqual(sent, []);
  });

  it('only an administrator runs it on a node; an unknown node is a 404', async () => {
    const { disk, sent } = service(true);
    await assert.rejects(disk.runOn({ isAdmin: false } as User, 'n1', false), { code: 'forbidden' });
    await assert.rejects(disk.runOn({ isAdmin: true } as User, 'nope', false), { code: 'not_found' });
    assert.deepEqual(sent, []);
  });
});
