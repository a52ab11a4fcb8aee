import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cronViolations, dueRun, nextRunAfter, scheduleProblem } from './cron';
import { parseDescriptor } from './descriptor';

const at = (iso: string) => new Date(iso);

describe('cron schedules', () => {
  it('takes five fields, six with seconds first, and the @ names', () => {
    for (const s of ['*/5 * * * *', '0 3 * * 1-5', '*/3 * * * * *', '@hourly', '@daily']) assert.equal(scheduleProblem(s), null, s);
  });

  it('refuses what cron would refuse, each violation named by its pointer', () => {
    for (const s of ['every minute', '61 * * * *', '* * * *', '* * * * * * *', '*/5 * * * 9']) assert.notEqual(scheduleProblem(s), null, s);
    assert.deepEqual(
      cronViolations([
        { schedule: '*/5 * * * *', command: 'true' },
        { schedule: '70 * * * *', command: 'true' },
      ]).map((v) => [v.pointer, v.rule]),
      [['/cron/1/schedule', 'cron-schedule']],
    );
  });

  it('computes the next run in UTC', () => {
    assert.equal(nextRunAfter('*/5 * * * *', at('2026-01-01T10:02:00Z')).toISOString(), '2026-01-01T10:05:00.000Z');
    assert.equal(nextRunAfter('0 3 * * *', at('2026-01-01T10:02:00Z')).toISOString(), '2026-01-02T03:00:00.000Z');
    assert.equal(nextRunAfter('*/3 * * * * *', at('2026-01-01T10:02:01Z')).toISOString(), '2026-01-01T10:02:03.000Z');
  });

  it('is due once for the newest time since the last run, however many were missed', () => {
    const last = at('2026-01-01T10:00:00Z');
    assert.equal(dueRun('*/5 * * * *', last, at('2026-01-01T10:04:59Z')), null);
    assert.equal(dueRun('*/5 * * * *', last, at('2026-01-01T10:05:00Z'))?.toISOString(), '2026-01-01T10:05:00.000Z');
    // A broker that was away for twenty minutes runs the entry once, for the newest time, not four times.
    assert.equal(dueRun('*/5 * * * *', last, at('2026-01-01T10:21:00Z'))?.toISOString(), '2026-01-01T10:20:00.000Z');
    // Not twice for the same time.
    assert.equal(dueRun('*/5 * * * *', at('2026-01-01T10:20:00Z'), at('2026-01-01T10:21:00Z')), null);
  });

  it('is one property of gearshift.yml', () => {
    const d = parseDescriptor('name: a\ncartridges: [nodejs-24]\ncron:\n  - schedule: "*/5 * * * *"\n    command: node clean.js\n    process: worker\n');
    assert.deepEqual(d.cron, [{ schedule: '*/5 * * * *', command: 'node clean.js', process: 'worker' }]);
    assert.throws(() => parseDescriptor('name: a\ncartridges: [nodejs-24]\ncron:\n  - schedule: "* * * * *"\n'), /command/);
  });
});
