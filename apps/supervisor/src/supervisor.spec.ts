import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Supervisor, type Program } from './supervisor';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A program that says it is ready after `delayMs` (as the platform's parts do), or exits at once when `crash`. */
function program(name: string, opts: { delayMs?: number; crash?: boolean } = {}): Program {
  const script = opts.crash
    ? 'process.exit(3)'
    : `setTimeout(() => require('fs').writeFileSync(process.env.GEARSHIFT_READY_FILE, JSON.stringify({ pid: process.pid, serving: true })), ${opts.delayMs ?? 0}); setInterval(() => {}, 1000); process.on('SIGTERM', () => process.exit(0));`;
  return { name, command: process.execPath, args: ['-e', script] };
}

/** An older copy of a program, started by "an earlier supervisor". */
function older(): ChildProcess {
  return spawn(process.execPath, ['-e', "setInterval(() => {}, 1000); process.on('SIGTERM', () => process.exit(0))"], { stdio: 'ignore' });
}

const gone = (child: ChildProcess) =>
  new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

function dirs() {
  const root = mkdtempSync(join(tmpdir(), 'supervisor-spec-'));
  return { root, logDir: join(root, 'logs'), runDir: join(root, 'run') };
}

describe('Supervisor.takeOver', () => {
  it('replaces running copies one at a time, each new one ready before the old one stops', async () => {
    const d = dirs();
    const oldA = older();
    const oldB = older();
    const events: string[] = [];
    oldA.once('exit', () => events.push('a: old stopped'));
    oldB.once('exit', () => events.push('b: old stopped'));
    const sup = new Supervisor([program('a', { delayMs: 300 }), program('b', { delayMs: 300 })], { logDir: d.logDir, runDir: d.runDir, stopGraceMs: 2000 });
    try {
      const result = await sup.takeOver(
        new Map([
          ['a', oldA.pid!],
          ['b', oldB.pid!],
        ]),
        { step: (line) => events.push(line.replace(/ \(pid \d+\)| after [\d.]+ s| in [\d.]+ s/g, '')) },
      );
      assert.deepEqual(result, { ok: true });
      assert.deepEqual(events, [
        'a: the new one is ready; stopping the old one',
        'a: old stopped',
        'a: replaced',
        'b: the new one is ready; stopping the old one',
        'b: old stopped',
        'b: replaced',
      ]);
      for (const name of ['a', 'b']) {
        const pid = Number(readFileSync(join(d.runDir, `${name}.pid`), 'utf8'));
        assert.doesNotThrow(() => process.kill(pid, 0), `the new ${name} runs`);
      }
      assert.equal(Number(readFileSync(join(d.runDir, 'supervisor.pid'), 'utf8')), process.pid);
    } finally {
      await sup.stop();
      oldA.kill();
      oldB.kill();
      rmSync(d.root, { recursive: true, force: true });
    }
  });

  it('leaves the old copy running, and stops there, when the new one never gets ready', async () => {
    const d = dirs();
    const oldA = older();
    const oldB = older();
    const sup = new Supervisor([program('a', { crash: true }), program('b')], { logDir: d.logDir, runDir: d.runDir, stopGraceMs: 2000 });
    try {
      const result = await sup.takeOver(
        new Map([
          ['a', oldA.pid!],
          ['b', oldB.pid!],
        ]),
        { readyMs: 5000 },
      );
      assert.equal(result.ok, false);
      assert.match(result.failure ?? '', /^the new a exited \(exit code 3\); see its log; the running a \(pid \d+\) was left as it is$/);
      await sleep(300);
      assert.equal(oldA.exitCode, null, 'the old a runs on');
      assert.equal(oldB.exitCode, null, 'b is not replaced after a failed');
      assert.equal(Number(readFileSync(join(d.runDir, 'a.pid'), 'utf8')), oldA.pid, 'the pid file names the old a again');
      // Stopping the supervisor stops the older copies it watches too.
      await sup.stop();
      await Promise.all([gone(oldA), gone(oldB)]);
    } finally {
      await sup.stop();
      oldA.kill();
      oldB.kill();
      rmSync(d.root, { recursive: true, force: true });
    }
  });

  it('starts a program that has no running copy', async () => {
    const d = dirs();
    const sup = new Supervisor([program('a')], { logDir: d.logDir, runDir: d.runDir, stopGraceMs: 2000 });
    const steps: string[] = [];
    try {
      assert.deepEqual(await sup.takeOver(new Map(), { step: (l) => steps.push(l) }), { ok: true });
      assert.deepEqual(steps, ['a: none was running; started one']);
    } finally {
      await sup.stop();
      rmSync(d.root, { recursive: true, force: true });
    }
  });
});
