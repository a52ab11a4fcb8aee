import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cronViolations, dueRun, nextRunAfter, scheduleProblem } from './cron';
import { parseDescriptor } from './descriptor';

const at = (iso: string) => new Date(iso);

describe('cron schedules', () => {
  it('takes five fields, six with seconds first, and the @ names', () => {
    for (const s of ['*/5 * * * *', '0 3 * * 1-5', '30 * * * * *', '@hourly', '@daily', '@weekdays']) assert.equal(scheduleProblem(s), null, s);
    // A seconds field finer than the minute passes where the least interval is set lower (GEARSHIFT_CRON_MIN_INTERVAL_S).
    assert.equal(scheduleProblem('*/3 * * * * *', 3), null);
  });

  it('refuses a schedule that runs an entry more often than once a minute, naming the rule', () => {
    for (const s of ['* * * * * *', '*/30 * * * * *', '0,1 * * * * *']) {
      assert.match(scheduleProblem(s) ?? '', /an entry runs at most once a minute \(cron's own granularity is the minute/, s);
    }
    assert.match(scheduleProblem('* * * * * *') ?? '', /^runs an entry 1 s after the one before/);
    assert.match(scheduleProblem('*/3 * * * * *', 5) ?? '', /at most once every 5 s/);
    assert.notEqual(scheduleProblem('@secondly'), null);
    assert.deepEqual(
      cronViolations([{ schedule: '* * * * * *', command: 'true' }]).map((v) => [v.pointer, v.rule]),
      [['/cron/0/schedule', 'cron-schedule']],
    );
  });

  it("names the macros cron knows for one it does not, rather than the parser's fragment of it", () => {
    const problem = scheduleProblem('@every 1s') ?? '';
    assert.match(problem, /cron knows the macros @yearly, .*@hourly/);
    assert.match(problem, /"\*\/5 \* \* \* \*" for every five minutes/);
    assert.doesNotMatch(problem, /alias/);
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

  it('may name a service of the file to run in, and refuses one the file does not name', () => {
    const d = parseDescriptor(
      'name: a\ncartridges: []\nservices:\n  api: {kind: web, build: api, port: 3000}\n  jobs: {kind: worker, build: jobs}\ncron:\n  - schedule: "@hourly"\n    command: node sweep.js\n    service: jobs\n',
    );
    assert.deepEqual(d.cron, [{ schedule: '@hourly', command: 'node sweep.js', service: 'jobs' }]);
    assert.deepEqual(cronViolations(d.cron, Object.keys(d.services ?? {})), []);
    const bad = cronViolations(
      [
        { schedule: '@hourly', command: 'true', service: 'jobs' },
        { schedule: '@hourly', command: 'true', service: 'mailer' },
      ],
      ['api', 'jobs'],
    );
    assert.deepEqual(
      bad.map((v) => [v.pointer, v.rule]),
      [['/cron/1/service', 'known-service']],
    );
    assert.match(bad[0].message, /mailer.*api, jobs/);
    // A file without services has none to name.
    assert.deepEqual(
      cronViolations([{ schedule: '@hourly', command: 'true', service: 'jobs' }]).map((v) => [v.pointer, v.rule]),
      [['/cron/0/service', 'known-service']],
    );
    // A service or a process type, not both.
    assert.deepEqual(
      cronViolations([{ schedule: '@hourly', command: 'true', service: 'jobs', process: 'worker' }], ['jobs']).map((v) => [v.pointer, v.rule]),
      [['/cron/0/process', 'one-target']],
    );
    // A service's name follows the rule of services' names.
    assert.throws(
      () => parseDescriptor('name: a\ncartridges: [nodejs-24]\ncron:\n  - {schedule: "@hourly", command: "true", service: "Bad_Name"}\n'),
      /service/,
    );
  });
});
