import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LABELS } from '@gearshift/cartridges';
import type { ObservedContainer } from './docker.adapter';
import type { FailedGearOutput } from './failed-gears';
import { diskReplacedLine, GearDiskGuard, overDisk } from './gear-disk';

const MB = 1024 * 1024;
const gear = (id: string, state = 'running', extra: Record<string, string> = {}): ObservedContainer => ({
  id: `c-${id}`,
  name: `gear-${id}`,
  labels: { [LABELS.gear]: id, [LABELS.app]: `app-${id}`, [LABELS.cartridge]: 'nodejs-24', ...extra },
  state,
  publishedPorts: {},
  addresses: {},
});

describe('overDisk', () => {
  it('names the running gears past the bound, with what they wrote', () => {
    const containers = [gear('a'), gear('b'), gear('c', 'exited'), { ...gear('d'), labels: { [LABELS.app]: 'x' } }];
    const written = new Map([
      ['c-a', 40 * MB],
      ['c-b', 32 * MB],
      ['c-c', 99 * MB],
      ['c-d', 99 * MB],
    ]);
    assert.deepEqual(overDisk(containers, written, 32), [{ containerId: 'c-a', gearId: 'a', appId: 'app-a', cartridge: 'nodejs-24', written: 40 * MB }]);
  });

  it('counts a container the Engine gave no size for as having written nothing', () => {
    assert.deepEqual(overDisk([gear('a')], new Map(), 16), []);
  });
});

describe('GearDiskGuard', () => {
  const fake = (containers: ObservedContainer[], written: Map<string, number>) => {
    const calls: string[] = [];
    const recorded: { appId: string; out: FailedGearOutput }[] = [];
    const turns: string[] = [];
    let beats = 0;
    let current = [...containers];
    const guard = new GearDiskGuard({
      docker: {
        listContainers: async (labels) => current.filter((c) => Object.entries(labels).every(([k, v]) => c.labels[k] === v || !(k in c.labels))),
        writtenBytes: async () => written,
        logTail: async () => 'listening on 8080\nwriting\n',
        stopContainer: async (id) => void calls.push(`stop ${id}`),
        removeContainer: async (id) => {
          calls.push(`remove ${id}`);
          current = current.filter((c) => c.id !== id);
        },
      },
      labels: {},
      limitMb: 32,
      failedGears: { record: (appId, out) => void recorded.push({ appId, out }) },
      serial: async (appId, work) => {
        turns.push(appId);
        return work();
      },
      log: () => undefined,
      replaced: () => void beats++,
    });
    return {
      guard,
      calls,
      recorded,
      turns,
      beats: () => beats,
      replaceMeanwhile: (id: string) => (current = current.map((c) => (c.id === id ? { ...c, id: `${id}-new` } : c))),
    };
  };

  it('replaces a gear past the bound in its app turn, keeping what it printed with the reason, and beats at once', async () => {
    const f = fake([gear('a'), gear('b')], new Map([['c-a', 50 * MB]]));
    assert.equal(await f.guard.check(), 1);
    assert.deepEqual(f.turns, ['app-a']);
    assert.deepEqual(f.calls, ['stop c-a', 'remove c-a']);
    assert.equal(f.recorded.length, 1);
    assert.equal(f.recorded[0].appId, 'app-a');
    assert.equal(f.recorded[0].out.reason, 'was replaced for its disk use');
    assert.deepEqual(f.recorded[0].out.lines, ['listening on 8080', 'writing', diskReplacedLine(50 * MB, 32)]);
    assert.match(diskReplacedLine(50 * MB, 32), /wrote 50 MB to its container's filesystem, more than the 32 MB a gear may \(GEARSHIFT_GEAR_DISK_MB\)/);
    assert.equal(f.beats(), 1);
  });

  it('leaves a gear a job replaced while it waited for its turn', async () => {
    const f = fake([gear('a')], new Map([['c-a', 50 * MB]]));
    f.replaceMeanwhile('c-a');
    assert.equal(await f.guard.check(), 0);
    assert.deepEqual(f.calls, []);
    assert.equal(f.beats(), 0);
  });

  it('replaces nothing while every gear is within the bound', async () => {
    const f = fake([gear('a')], new Map([['c-a', 31 * MB]]));
    assert.equal(await f.guard.check(), 0);
    assert.deepEqual(f.turns, []);
  });
});
