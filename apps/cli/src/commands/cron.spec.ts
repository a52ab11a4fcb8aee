import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CronRunView, CronView } from '../api-types';
import { cronView } from './cron';

const run = (more: Partial<CronRunView>): CronRunView => ({
  dueAt: '2026-11-30T10:00:00.000Z',
  state: 'failed',
  release: 3,
  process: 'web',
  startedAt: '2026-11-30T10:00:00.000Z',
  finishedAt: '2026-11-30T10:00:01.000Z',
  exitCode: null,
  error: null,
  output: '',
  ...more,
});

describe('gearshift cron', () => {
  const command = 'node scripts/send-the-weekly-digest-to-every-subscriber.js --batch 500';
  const view: CronView = {
    release: 3,
    entries: [
      {
        schedule: '0 * * * *',
        command,
        process: 'web',
        service: null,
        next: '2026-11-30T11:00:00.000Z',
        runs: [run({ error: 'the gear for the run could not start\nno node has room' })],
      },
    ],
  };

  it('ends a cut command or failure with …, and says how to see it whole', () => {
    const out = cronView(view, { runs: 5 });
    assert.match(out, /^0 \* \* \* \* +node scripts\/send-the-weekly-digest-to-every-subs… +web/m);
    assert.match(out, /failed: the gear for the run could not start…$/m);
    assert.doesNotMatch(out, /no node has room/);
    assert.match(out, /^\(a cell ending in … was cut to fit: add --wide to see it whole, or --json\)$/m);
  });

  it('shows them whole with --wide', () => {
    const out = cronView(view, { runs: 5, wide: true });
    assert.ok(out.includes(command));
    assert.match(out, /failed: the gear for the run could not start ⏎ no node has room$/m);
    assert.doesNotMatch(out, /…|cut to fit/);
  });
});
