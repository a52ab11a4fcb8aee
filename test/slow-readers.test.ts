import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { eventually, Platform, sleep } from './support/platform';

/**
 * Clients that read a stream slower than it comes: a one-off command printing `yes` read at a few KB/s, and a
 * following log of a gear that prints as fast. The broker holds a bounded amount for each (GEARSHIFT_STREAM_BUFFER),
 * drops the rest and says so to the client; its memory stays flat, it keeps answering, and the command's exit code
 * still comes.
 */

const APP = '/domains/dev/apps/flood';
const A = 'A'.repeat(33);
const LONG = 'B'.repeat(1000);
/** How long the flood lasts and the reader reads slowly. */
const SECONDS = 20;
/** Prints `yes` for `seconds`, in bursts, then a last line. */
const flood = (seconds: number) => `end=$(($(date +%s)+${seconds})); while [ $(date +%s) -lt $end ]; do yes ${A} | head -n 100000; done`;

/** A request whose answer is read at `rate` bytes a second until `fast()`, then as fast as it comes. */
class SlowReader {
  text = '';
  status = 0;
  readonly ended: Promise<void>;
  private res?: IncomingMessage;
  private timer?: NodeJS.Timeout;

  constructor(url: string, method: string, token: string, body: string | undefined, rate: number) {
    const req = request(url, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
    this.ended = new Promise((resolve, reject) => {
      req.on('error', reject);
      req.on('response', (res) => {
        this.res = res;
        this.status = res.statusCode ?? 0;
        res.on('end', () => resolve());
        res.on('error', reject);
        // Paused: what is not read stays in the sockets, and TCP tells the broker to wait.
        this.timer = setInterval(() => {
          const chunk = res.read(rate / 10) as Buffer | null;
          if (chunk) this.text += chunk.toString('latin1');
        }, 100);
      });
    });
    req.end(body);
  }

  fast() {
    clearInterval(this.timer);
    this.res?.on('data', (c: Buffer) => (this.text += c.toString('latin1')));
  }

  stop() {
    clearInterval(this.timer);
    this.res?.destroy();
  }
}

describe('clients that read slowly', { timeout: 600_000 }, () => {
  let p: Platform;

  /** The broker's resident memory, in MB. */
  const rssMb = () => {
    const status = readFileSync(`/proc/${p.broker!.child.pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
  };

  /** While `reader` reads slowly for `seconds`: the broker's memory and how long its API takes to answer. */
  const watch = async (seconds: number) => {
    const before = rssMb();
    let most = before;
    let slowest = 0;
    for (const until = Date.now() + seconds * 1000; Date.now() < until;) {
      assert.equal(p.broker!.child.exitCode, null, `the broker died:\n${p.broker!.output.slice(-20).join('\n')}`);
      most = Math.max(most, rssMb());
      const t = Date.now();
      const app = await p.api('GET', APP);
      assert.equal(app.status, 200);
      slowest = Math.max(slowest, Date.now() - t);
      await sleep(1000);
    }
    return { before, most, slowest };
  };

  before(async () => {
    p = await Platform.start('slow-readers');
    assert.equal((await p.api('POST', '/domains', { name: 'dev' })).status, 201);
    const created = await p.api('POST', '/domains/dev/apps?wait=120', { name: 'flood', cartridges: ['static'] });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const deployed = (await p.deployFiles(APP, { 'index.html': '<p>flood</p>\n' })).body as { operation: { state: string } };
    assert.equal(deployed.operation.state, 'succeeded', JSON.stringify(deployed));
  });
  after(async () => {
    await p?.stop();
  });

  it("holds a bounded part of a one-off command's output for a slow reader, says what it dropped, and gives the exit code", { timeout: 180_000 }, async (t) => {
    // The quiet after the flood gives the reader time to catch up and hear what it missed; the broker may still be
    // working through the flood's backlog on a busy machine, so the last lines come one a second for ten more.
    const command = ['sh', '-c', `${flood(SECONDS)}; sleep 10; for i in $(seq 1 10); do echo after the flood $i; sleep 1; done; exit 3`];
    const reader = new SlowReader(`${p.baseUrl}/api/v1${APP}/run`, 'POST', p.token, JSON.stringify({ command }), 4096);
    const seen = await watch(SECONDS + 2);
    t.diagnostic(`broker RSS ${seen.before.toFixed(0)} → ${seen.most.toFixed(0)} MB, slowest API answer ${seen.slowest} ms, ${reader.text.length} bytes read`);
    assert.equal(reader.status, 200);
    assert.ok(seen.most - seen.before < 40, `the broker grew from ${seen.before.toFixed(0)} MB to ${seen.most.toFixed(0)} MB`);
    assert.ok(seen.slowest < 5000, `the API took ${seen.slowest} ms to answer meanwhile`);
    reader.fast();
    const ending = Date.now();
    await reader.ended;
    t.diagnostic(`the rest (${reader.text.length} bytes in all) read in ${Date.now() - ending} ms`);
    const lines = reader.text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { line?: string; stream?: string; dropped?: number; exitCode?: number });
    const dropped = lines.filter((l) => l.dropped !== undefined);
    assert.ok(dropped.length > 0, 'the client is told that lines were dropped');
    assert.equal(dropped[0].stream, 'stderr');
    assert.match(dropped[0].line!, /^gearshift: \d+ lines \(\d+ bytes\) dropped: .*GEARSHIFT_STREAM_BUFFER/);
    assert.ok(
      lines.some((l) => l.line === A),
      'what was held is passed on',
    );
    assert.ok(
      lines.some((l) => l.line === 'after the flood 10'),
      `the command ran on to its end; its last lines read: ${JSON.stringify(lines.slice(-4))}`,
    );
    assert.deepEqual(lines.at(-1), { exitCode: 3 });
  });

  it('holds a bounded part of a followed log for a slow reader and says what it dropped', { timeout: 180_000 }, async (t) => {
    const scaled = await p.api('PUT', `${APP}/scale?wait=120`, { replicas: 3 });
    assert.equal(scaled.status, 202, JSON.stringify(scaled.body));
    const gears = ((await p.api('GET', APP)).body.gears as { id: string; state: string }[]).filter((g) => g.state === 'running');
    assert.equal(gears.length, 3);
    const reader = new SlowReader(`${p.baseUrl}/api/v1${APP}/logs?follow=true&tail=0`, 'GET', p.token, undefined, 4096);
    // Each gear prints `yes` to its own output (nginx's, process 1), which is what its log is: 8 MB of long lines at
    // once, which Docker keeps in one log file (followers across rotations: log-rotation.test.ts).
    const printing = Promise.all(
      gears.map((g) => p.api('POST', `${APP}/exec`, { gear: g.id, command: ['sh', '-c', `yes ${LONG} | head -n 8000 > /proc/1/fd/1`] })),
    );
    const seen = await watch(SECONDS + 2);
    t.diagnostic(`broker RSS ${seen.before.toFixed(0)} → ${seen.most.toFixed(0)} MB, slowest API answer ${seen.slowest} ms, ${reader.text.length} bytes read`);
    assert.equal(reader.status, 200);
    assert.ok(seen.most - seen.before < 40, `the broker grew from ${seen.before.toFixed(0)} MB to ${seen.most.toFixed(0)} MB`);
    assert.ok(seen.slowest < 5000, `the API took ${seen.slowest} ms to answer meanwhile`);
    for (const exec of await printing) {
      assert.equal(exec.status, 200);
      assert.match(typeof exec.body === 'string' ? exec.body : JSON.stringify(exec.body), /"exitCode":0/);
    }
    reader.fast();
    // Once it caught up, the reader hears what the gear prints next.
    await eventually(
      'the log to go on after the flood',
      async () => {
        await p.api('POST', `${APP}/exec`, { gear: gears[0].id, command: ['sh', '-c', 'echo after the flood > /proc/1/fd/1'] });
        return reader.text.includes('after the flood');
      },
      120_000,
      1000,
    );
    reader.stop();
    t.diagnostic(`${reader.text.length} bytes read in all`);
    const lines = reader.text.split('\n');
    assert.ok(
      lines.some((l) => /^\[gearshift\] \d+ lines \(\d+ bytes\) dropped: .*GEARSHIFT_STREAM_BUFFER/.test(l)),
      'the client is told that lines were dropped',
    );
    assert.ok(lines.some((l) => l.endsWith(`] ${LONG}`)));
  });
});
