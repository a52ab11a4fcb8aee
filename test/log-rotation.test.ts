import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { LABELS, RESTRICTED_SECURITY } from '@gearshift/cartridges';
import { DockerAdapter } from '../apps/node-agent/src/docker.adapter';
import { removeInstance } from './support/docker';
import { eventually, Platform } from './support/platform';

/**
 * A gear that prints faster than its 1 MB log file holds has the Engine rotate it under a follower, whose stream then
 * stalls for good, or sends lines twice, on this Engine (20.10): the follower goes on past the rotations, sends no
 * line twice, and has every line once the gear writes no faster than it is read.
 */
describe("a followed gear's log across rotations", { timeout: 120_000 }, () => {
  const instance = `gst-logrot-${randomBytes(3).toString('hex')}`;
  const docker = new DockerAdapter(undefined, { maxSize: '1m' });
  after(() => removeInstance(instance));

  it('goes on after the Engine rotates the log file, with no line twice', async () => {
    const burst = 25_000;
    const pad = 'x'.repeat(100);
    // A second to be followed, then about 4 MB of lines in a burst (the log file rotates every 1 MB), then a line
    // every 50 ms: those are what a follower left behind by the rotation would never see.
    const script =
      `sleep 1; i=0; while [ $i -lt ${burst} ]; do i=$((i+1)); echo "line $i ${pad}"; done; ` +
      `while :; do i=$((i+1)); echo "line $i ${pad}"; sleep 0.05; done`;
    const id = await docker.createContainer({
      name: `${instance}-chatty`,
      image: 'gearshift/base:bookworm',
      command: ['sh', '-c', script],
      hostname: 'chatty',
      env: {},
      labels: { [LABELS.instance]: instance },
      ports: [],
      volumes: [],
      network: 'bridge',
      aliases: [],
      publishIp: '127.0.0.1',
      memoryMb: 128,
      cpus: 1,
      pids: 32,
      security: RESTRICTED_SECURITY,
    });
    await docker.startContainer(id);
    const numbers: number[] = [];
    const notices: { at: number; line: string }[] = [];
    let ended = false;
    const started = Date.now();
    let pastBurstAt = 0;
    const wanted = burst + 40;
    let reached: () => void = () => undefined;
    const reachedOrTimedOut = new Promise<void>((resolve) => {
      reached = resolve;
      setTimeout(resolve, 30_000).unref();
    });
    const stop = await docker.streamLogs(
      id,
      { tail: -1, follow: true },
      (line) => {
        const m = /^line (\d+) x+$/.exec(line);
        if (!m) return notices.push({ at: numbers.length, line });
        const n = Number(m[1]);
        numbers.push(n);
        if (n > burst && !pastBurstAt) pastBurstAt = Date.now();
        if (n >= wanted) reached();
      },
      () => (ended = true),
    );
    await reachedOrTimedOut;
    stop();
    const last = numbers.at(-1) ?? 0;
    const gaps = numbers.flatMap((n, i) => (i > 0 && n !== numbers[i - 1] + 1 ? [{ at: i, from: numbers[i - 1], to: n }] : []));
    const figures =
      `${numbers.length} lines received, last ${last}, ${gaps.length} gaps (${gaps.map((g) => `${g.from}->${g.to}`).join(', ')}), ` +
      `notices ${JSON.stringify(notices)}, ended ${ended}, past the burst after ${pastBurstAt ? pastBurstAt - started : '-'} ms, ` +
      `done after ${Date.now() - started} ms`;
    console.log(figures);
    assert.ok(last >= wanted, `the follower still hears the gear after the rotation: ${figures}`);
    assert.equal(ended, false, figures);
    // Each line once and in order: a re-attached follower sends none it had sent already.
    for (let i = 1; i < numbers.length; i++) assert.ok(numbers[i] > numbers[i - 1], `line ${numbers[i]} after ${numbers[i - 1]}: ${figures}`);
    // Once the gear writes no faster than it is read, the follower has every line of it.
    const slow = numbers.filter((n) => n > burst);
    assert.deepEqual(
      slow,
      slow.map((_, i) => burst + 1 + i),
      `every line after the burst: ${figures}`,
    );
    for (const n of notices) assert.match(n.line, /^gearshift: lines may be missing here: the gear's log file was rotated before they were read$/, figures);
  });
});

/**
 * The same through the platform: an agent whose gears rotate their log at 1 MB (GEARSHIFT_GEAR_LOG_MAX_SIZE), a gear
 * that prints about 4 MB at once and then a line every 50 ms, and `GET .../logs?follow=true` read as it comes.
 */
describe('logs?follow=true across a rotation of the gear log', { timeout: 240_000 }, () => {
  const APP = '/domains/dev/apps/chatty';
  let p: Platform;
  before(async () => {
    p = await Platform.start('log-rotation', { node1: {} }, { env: { GEARSHIFT_GEAR_LOG_MAX_SIZE: '1m' } });
    assert.equal((await p.api('POST', '/domains', { name: 'dev' })).status, 201);
    const created = await p.api('POST', `/domains/dev/apps?wait=120`, { name: 'chatty', cartridges: ['static'] });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const deployed = (await p.deployFiles(APP, { 'index.html': '<p>chatty</p>\n' })).body as { operation: { state: string } };
    assert.equal(deployed.operation.state, 'succeeded', JSON.stringify(deployed));
  });
  after(async () => {
    await p?.stop();
  });

  it('goes on after the rotation, each line once', async () => {
    const burst = 25_000;
    const slowLines = 60;
    const gear = ((await p.api('GET', APP)).body.gears as { id: string }[])[0].id;
    const follow = await p.follow(`${APP}/logs?tail=0&follow=true`);
    assert.equal(follow.status, 200);
    // Printed to the gear's own output (its process 1's), which is what its log is.
    const pad = 'x'.repeat(100);
    const printed = await p.api('POST', `${APP}/exec`, {
      gear,
      command: [
        'sh',
        '-c',
        `i=0; while [ $i -lt ${burst} ]; do i=$((i+1)); echo "line $i ${pad}"; done > /proc/1/fd/1; ` +
          `while [ $i -lt ${burst + slowLines} ]; do i=$((i+1)); echo "line $i ${pad}" > /proc/1/fd/1; sleep 0.05; done`,
      ],
    });
    assert.equal(printed.status, 200, JSON.stringify(printed.body));
    const numbers = () => [...follow.text().matchAll(/^\[static [0-9a-f]{8}\] line (\d+) x+$/gm)].map((m) => Number(m[1]));
    await eventually('the last line to be followed', async () => numbers().includes(burst + slowLines), 20_000, 250).catch(() => undefined);
    await follow.stop();
    const got = numbers();
    const figures = `${got.length} lines, last ${got.at(-1)}, notices: ${follow
      .text()
      .split('\n')
      .filter((l) => /gearshift/.test(l))
      .join(' | ')}`;
    console.log(figures);
    assert.ok(got.includes(burst + slowLines), `the follower hears the gear after the rotation: ${figures}`);
    for (let i = 1; i < got.length; i++) assert.ok(got[i] > got[i - 1], `line ${got[i]} after ${got[i - 1]}: ${figures}`);
    const slow = got.filter((n) => n > burst);
    assert.deepEqual(
      slow,
      slow.map((_, i) => burst + 1 + i),
      `every line after the burst: ${figures}`,
    );
  });
});
