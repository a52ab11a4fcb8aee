import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Queue, type ConnectionOptions } from 'bullmq';
import IORedis from 'ioredis';
import { BEATS_QUEUE, BROKER_QUEUE, beatDeduplicationId, stamp, type BrokerJobs } from '@gearshift/cartridges';
import { loadConfig } from '../apps/broker/src/config';
import { BEAT_CONCURRENCY, QueueService } from '../apps/broker/src/queue/queue.service';
import type { NodePublicKeys } from '../apps/broker/src/queue/node-public-keys';
import { REDIS_URL } from './support/stores';

/**
 * Heartbeats never wait behind reports: the broker's queue service against the real Redis, with thousands of reports
 * queued and a handler that takes its time over each, still takes a node's beat within a second. An agent older than
 * the heartbeats' queue beats on the broker's queue, and is still heard there. While a node's beat waits, its next ones
 * are dropped, until the broker takes it; the watchdog counts a node whose beat waits as alive.
 */
describe('the heartbeats queue', { timeout: 120_000 }, () => {
  const instance = `beats${randomBytes(4).toString('hex')}`;
  const REPORTS = 5000;
  let redis: IORedis;
  let service: QueueService;
  let broker: Queue;
  let beats: Queue;
  let reportsDone = 0;
  const beatsTaken = new Map<string, number>();
  /** Beats of nodes named `held-*` wait for `held` before they are taken: the broker's beat worker is busy. */
  let release: () => void = () => undefined;
  const held = new Promise<void>((r) => (release = r));
  /** A beat of a node named `slow-*` is taken, then takes its time until `slow` settles. */
  let releaseSlow: () => void = () => undefined;
  const slow = new Promise<void>((r) => (releaseSlow = r));

  const report = (i: number): BrokerJobs['operation.report'] => ({
    operationId: `op${i}`,
    nodeId: 'n1',
    appId: 'a1',
    phase: 'step',
    at: Date.now(),
    step: 'x',
    gears: [],
  });
  const beat = (nodeId: string): BrokerJobs['node.heartbeat'] => ({
    nodeId,
    at: Date.now(),
    capacity: { memoryMb: 1024, maxGears: 10, address: '127.0.0.1' },
    gears: [],
    memoryRssMb: 60,
  });
  const until = async (what: string, ok: () => boolean, ms: number) => {
    const end = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > end) throw new Error(`${what} within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  before(async () => {
    redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
    const connection = redis as unknown as ConnectionOptions;
    broker = new Queue(BROKER_QUEUE, { connection, prefix: instance });
    beats = new Queue(BEATS_QUEUE, { connection, prefix: instance });
    for (let i = 0; i < REPORTS; i += 500)
      await broker.addBulk(Array.from({ length: 500 }, (_, k) => ({ name: 'operation.report', data: stamp(report(i + k)), opts: { removeOnComplete: true } })));
    service = new QueueService(loadConfig({ REDIS_URL, GEARSHIFT_INSTANCE: instance }), {} as NodePublicKeys);
    service.consume({
      // Each report costs the broker some milliseconds (a transaction): the queue drains at a few hundred a second.
      'operation.report': async () => {
        await new Promise((r) => setTimeout(r, 20));
        reportsDone++;
      },
      'node.heartbeat': async (hb) => {
        if (hb.nodeId.startsWith('held-')) await held;
        beatsTaken.set(hb.nodeId, Date.now());
        if (hb.nodeId.startsWith('slow-')) await slow;
      },
      'app.wake': async () => undefined,
    });
  });
  after(async () => {
    release();
    releaseSlow();
    await service?.onApplicationShutdown();
    await broker?.obliterate({ force: true }).catch(() => undefined);
    await beats?.obliterate({ force: true }).catch(() => undefined);
    await broker?.close();
    await beats?.close();
    redis?.disconnect();
  });

  it(`takes a beat within a second while ${REPORTS} reports wait`, async () => {
    await until('the worker to start on the reports', () => reportsDone > 0, 10_000);
    const sent = Date.now();
    await beats.add('node.heartbeat', stamp(beat('n1')), { removeOnComplete: true });
    await until('the beat to be taken', () => beatsTaken.has('n1'), 5_000);
    const waited = beatsTaken.get('n1')! - sent;
    const waiting = await broker.getWaitingCount();
    assert.ok(waiting > REPORTS / 2, `the reports still wait (${waiting}): the beat did not simply come after them`);
    assert.ok(waited < 1000, `the beat waited ${waited} ms`);
  });

  it("holds a node's beats while one waits, queues the next once the broker takes it, and counts the waiting one as alive", async () => {
    const beatOf = (nodeId: string) =>
      beats.add('node.heartbeat', stamp(beat(nodeId)), { removeOnComplete: true, deduplication: { id: beatDeduplicationId(nodeId) } });
    // Every slot of the broker's beat worker taken by a beat that takes its time.
    for (let i = 0; i < BEAT_CONCURRENCY; i++) await beatOf(`held-${i}`);
    for (let i = 0; i < 100 && (await beats.getActiveCount()) < BEAT_CONCURRENCY; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await beats.getActiveCount(), BEAT_CONCURRENCY);
    assert.equal(await service.beatWaiting('slow-n2'), false, 'no beat of the node yet');
    const ids = new Set<string>();
    for (let i = 0; i < 10; i++) ids.add((await beatOf('slow-n2')).id!);
    assert.equal(ids.size, 1, `ten beats while one waits: one job (${[...ids].join(', ')})`);
    assert.equal(await beats.getWaitingCount(), 1);
    assert.equal(await service.beatWaiting('slow-n2'), true, 'a beat that waits counts the node alive');
    release();
    await until("the node's beat to be taken", () => beatsTaken.has('slow-n2'), 5_000);
    // Taken, and still being worked on: the id is released already, so the node's next beat queues as a job of its own.
    const taken = beatsTaken.get('slow-n2')!;
    await new Promise((r) => setTimeout(r, 5));
    const next = await beatOf('slow-n2');
    assert.ok(!ids.has(next.id!), 'the beat after the one taken queues');
    releaseSlow();
    await until("the node's next beat to be taken", () => beatsTaken.get('slow-n2')! > taken, 5_000);
    for (let i = 0; i < 100 && (await service.beatWaiting('slow-n2')); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await service.beatWaiting('slow-n2'), false, 'nothing of the node waits any more');
  });

  it('is not silenced, nor kept alive, by a deduplication id whose job is gone', async () => {
    await redis.set(`${instance}:${BEATS_QUEUE}:de:${beatDeduplicationId('n3')}`, '424242');
    assert.equal(await service.beatWaiting('n3'), false, 'an id whose job is gone says nothing of the node');
    const job = await beats.add('node.heartbeat', stamp(beat('n3')), { removeOnComplete: true, deduplication: { id: beatDeduplicationId('n3') } });
    assert.notEqual(job.id, '424242');
    await until("n3's beat to be taken", () => beatsTaken.has('n3'), 5_000);
  });

  it('refuses anything but a heartbeat on the heartbeats queue', async () => {
    const job = await beats.add('operation.report', stamp(report(-1)));
    for (let i = 0; i < 200 && !(await job.isFailed()); i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(await job.isFailed());
    const failed = await beats.getJob(job.id!);
    assert.match(failed!.failedReason, /does not belong on this queue/);
    assert.equal(failed!.attemptsMade, 1, 'for good, not retried');
  });

  it("still hears an older agent's beat on the broker queue, behind the reports", async () => {
    // The reports still waiting are dropped: the older agent's beat is heard on the broker queue, not behind all of them.
    await broker.drain();
    await broker.add('node.heartbeat', stamp(beat('older')), { removeOnComplete: true });
    await until("the older agent's beat to be taken", () => beatsTaken.has('older'), 10_000);
  });
});
