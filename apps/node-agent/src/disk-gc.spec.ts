import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { collectDisk, gcTable, planDiskGc, type DiskUsage, type GcFacts } from './disk-gc';

const ours = { 'gearshift.managed-by': 'gearshift', 'gearshift.instance': 'gs' };
const facts: GcFacts = {
  instance: 'gs',
  apps: new Set(['a1']),
  keepImages: new Set(['reg/a1:2', 'reg/a1:3']),
  buildCacheBytes: 1000,
  before: 10_000,
  graceMs: 1000,
};
const empty: DiskUsage = { images: [], volumes: [], buildCacheBytes: 0 };

describe('disk hygiene plan', () => {
  it('does nothing when nothing is left over', () => {
    const usage: DiskUsage = {
      images: [{ id: 'i1', tags: ['reg/a1:3'], labels: { ...ours, 'gearshift.app': 'a1' }, size: 50, containers: 1, created: 1 }],
      volumes: [{ name: 'v1', labels: { ...ours, 'gearshift.app': 'a1' }, size: 10, refCount: 1, createdAt: 1 }],
      buildCacheBytes: 999,
    };
    assert.deepEqual(planDiskGc(usage, facts), []);
    assert.deepEqual(planDiskGc(empty, facts), []);
  });

  it('removes dangling images, unkept releases, volumes of deleted apps and cache over the limit', () => {
    const usage: DiskUsage = {
      images: [
        { id: 'd1', tags: ['<none>:<none>'], labels: ours, size: 5, containers: 0, created: 1 },
        { id: 'r1', tags: ['reg/a1:1'], labels: { ...ours, 'gearshift.app': 'a1' }, size: 7, containers: 0, created: 1 },
        { id: 'r2', tags: ['reg/a1:2'], labels: { ...ours, 'gearshift.app': 'a1' }, size: 9, containers: 0, created: 1 },
        { id: 'r9', tags: ['reg/a9:1'], labels: { ...ours, 'gearshift.app': 'a9' }, size: 11, containers: 0, created: 1 },
      ],
      volumes: [{ name: 'v9', labels: { ...ours, 'gearshift.app': 'a9' }, size: 3, refCount: 0, createdAt: 1 }],
      buildCacheBytes: 1500,
    };
    assert.deepEqual(planDiskGc(usage, facts), [
      { kind: 'dangling images', name: 'd1', bytes: 5 },
      { kind: 'release images', name: 'reg/a1:1', bytes: 7 },
      { kind: 'release images', name: 'reg/a9:1', bytes: 11 },
      { kind: 'volumes', name: 'v9', bytes: 3 },
      { kind: 'build cache', name: 'over 1000 B', bytes: 500 },
    ]);
  });

  it("never lists another instance's or an unlabelled thing, one in use, an image of a build in progress, or a volume newer than the list of apps", () => {
    const usage: DiskUsage = {
      images: [
        { id: 'x1', tags: [], labels: {}, size: 5, containers: 0, created: 1 },
        { id: 'x2', tags: [], labels: { ...ours, 'gearshift.instance': 'other' }, size: 5, containers: 0, created: 1 },
        { id: 'x3', tags: [], labels: ours, size: 5, containers: 2, created: 1 },
        { id: 'x4', tags: ['plain:1'], labels: ours, size: 5, containers: 0, created: 1 },
        { id: 'x5', tags: [], labels: ours, size: 5, containers: 0, created: 9_500 },
        { id: 'x6', tags: ['reg/a9:7'], labels: { ...ours, 'gearshift.app': 'a9' }, size: 5, containers: 0, created: 9_500 },
      ],
      volumes: [
        { name: 'w1', labels: { 'gearshift.app': 'a9' }, size: 3, refCount: 0, createdAt: 1 },
        { name: 'w2', labels: { ...ours, 'gearshift.app': 'a9' }, size: 3, refCount: 1, createdAt: 1 },
        { name: 'w3', labels: { ...ours, 'gearshift.app': 'a9' }, size: 3, refCount: 0, createdAt: 10_000 },
        { name: 'w4', labels: ours, size: 3, refCount: 0, createdAt: 1 },
      ],
      buildCacheBytes: 0,
    };
    assert.deepEqual(planDiskGc(usage, facts), []);
  });

  it('counts an image with two tags once, with its last tag', () => {
    const usage: DiskUsage = {
      ...empty,
      images: [{ id: 'r', tags: ['reg/a9:1', 'reg/a9:latest'], labels: { ...ours, 'gearshift.app': 'a9' }, size: 8, containers: 0, created: 1 }],
    };
    assert.deepEqual(
      planDiskGc(usage, facts).map((i) => i.bytes),
      [0, 8],
    );
  });

  it('removes nothing in a dry run, and counts only what the Engine let go', async () => {
    const calls: string[] = [];
    const door = {
      diskUsage: async (): Promise<DiskUsage> => ({
        images: [
          { id: 'd1', tags: [], labels: ours, size: 5, containers: 0, created: 1 },
          { id: 'd2', tags: [], labels: ours, size: 6, containers: 0, created: 1 },
        ],
        volumes: [],
        buildCacheBytes: 0,
      }),
      removeImageRef: async (ref: string) => (calls.push(ref), ref === 'd1'),
      removeVolume: async () => undefined,
      pruneBuildCache: async () => 0,
    };
    assert.equal((await collectDisk(door, facts, true)).length, 2);
    assert.deepEqual(calls, []);
    assert.deepEqual(await collectDisk(door, facts, false), [{ kind: 'dangling images', name: 'd1', bytes: 5 }]);
    assert.deepEqual(calls, ['d1', 'd2']);
  });

  it('prints a table per kind with sizes and a total', () => {
    const table = gcTable([{ kind: 'volumes', name: 'v', bytes: 2048 }], false);
    assert.match(table, /^kind +removed +freed$/m);
    assert.match(table, /^volumes +1 +2\.0 KB$/m);
    assert.match(table, /^total +1 +2\.0 KB$/m);
  });
});
