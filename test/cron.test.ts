import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, Platform, runCli } from './support/platform';
import { freePort } from './support/processes';

/**
 * Cron entries in gearshift.yml: each runs on its schedule (here every two seconds: cron's optional seconds field) as
 * a one-off container of the app's release with the app's environment; its output and exit code are kept and shown
 * by `GET .../cron` and `gearshift cron`; a run still going when its entry is due again makes that time a skipped run;
 * a schedule cron cannot read is refused with the deployment; an entry may name a service of the file to run in;
 * every run is in the audit log.
 */

const APP = '/domains/dev/apps/crons';

interface CronRunView {
  dueAt: string;
  state: string;
  exitCode: number | null;
  error: string | null;
  output: string;
  release: number;
  startedAt: string | null;
  finishedAt: string | null;
}
interface CronView {
  release: number | null;
  entries: { schedule: string; command: string; process: string | null; service: string | null; next: string | null; runs: CronRunView[] }[];
}

describe('cron entries', { timeout: 600_000 }, () => {
  let p: Platform;
  const home = mkdtempSync(join(tmpdir(), 'gearshift-cron-cli-'));

  /** Deploys a static site whose gearshift.yml has these lines after its name and cartridges. */
  const deploy = async (yaml: string) => {
    const res = await p.deployFiles(APP, { 'index.html': '<p>cron</p>\n', 'gearshift.yml': `name: crons\ncartridges: [static]\n${yaml}` });
    return {
      status: res.status,
      body: res.body as { code?: string; message?: string; details: { pointer: string }[]; operation: { state: string } },
    };
  };

  const cron = async () => (await p.api<CronView>('GET', `${APP}/cron`)).body;

  before(async () => {
    // Schedules here name seconds, to run in seconds; by default an entry runs at most once a minute.
    p = await Platform.start('cron', { node1: {} }, { env: { GEARSHIFT_CRON_MIN_INTERVAL_S: '1' } });
    assert.equal((await p.api('POST', '/domains', { name: 'dev' })).status, 201);
    const created = await p.api('POST', '/domains/dev/apps?wait=120', { name: 'crons', cartridges: ['static'], env: { GREETING: 'hello' } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
  });
  after(async () => {
    await p?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('refuses a schedule cron cannot read, naming the entry (422)', async () => {
    const res = await deploy('cron:\n  - schedule: "*/5 * * * *"\n    command: "true"\n  - schedule: "every five minutes"\n    command: "true"\n');
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.code, 'rule_violation');
    assert.match(res.body.details[0].pointer, /\/cron\/1\/schedule$/);
    assert.match(res.body.message ?? '', /every five minutes/);
    const bad = await p.api(
      'POST',
      '/domains/dev/apply?dryRun=true',
      undefined,
      p.token,
      JSON.stringify({ name: 'crons', cartridges: ['static'], cron: [{ schedule: '61 * * * *', command: 'true' }] }),
    );
    assert.equal(bad.status, 422, JSON.stringify(bad.body));
    assert.equal(bad.body.details[0].pointer, '/cron/0/schedule');
    // A macro cron does not know is named whole, with the ones it does.
    const every = await deploy('cron:\n  - schedule: "@every 1s"\n    command: "true"\n');
    assert.equal(every.status, 422, JSON.stringify(every.body));
    assert.match(every.body.message ?? '', /"@every 1s" is not a cron schedule: cron knows the macros @yearly, .*@hourly/);
    assert.doesNotMatch(every.body.message ?? '', /alias/);
  });

  it("runs each entry on its schedule in the release, with the app's environment, keeping output and exit code", async () => {
    const res = await deploy(
      [
        'cron:',
        '  - schedule: "*/2 * * * * *"',
        '    command: echo tick $GREETING; echo oops >&2; exit 3',
        '  - schedule: "* * * * * *"',
        '    command: sleep 2.5; echo slow done',
        '',
      ].join('\n'),
    );
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.operation.state, 'succeeded', JSON.stringify(res.body.operation));
    const view = await eventually(
      'both entries to have finished runs',
      async () => {
        const v = await cron();
        return v.entries.every((e) => e.runs.some((r) => r.state === 'succeeded' || r.state === 'failed')) && v;
      },
      60_000,
      500,
    );
    assert.equal(view.release, 1);
    const [tick, slow] = view.entries;
    assert.equal(tick.schedule, '*/2 * * * * *');
    assert.equal(tick.process, 'web');
    assert.ok(tick.next && Date.parse(tick.next) > Date.now() - 2000, tick.next ?? 'no next time');
    const ended = tick.runs.find((r) => r.state === 'failed')!;
    assert.equal(ended.exitCode, 3);
    assert.equal(ended.release, 1);
    assert.deepEqual(ended.output.trimEnd().split('\n').sort(), ['oops', 'tick hello']);
    // Every two seconds: the times it ran for are even seconds.
    for (const r of tick.runs) assert.equal(new Date(r.dueAt).getUTCSeconds() % 2, 0, r.dueAt);
    assert.equal(slow.runs.find((r) => r.state === 'succeeded')?.output, 'slow done\n');
  });

  it('plans a changed, added or removed entry in an apply and its dry run, as the next push brings it', async () => {
    const apply = (cron: { schedule: string; command: string }[], dryRun: boolean) =>
      p.api(
        'POST',
        `/domains/dev/apply${dryRun ? '?dryRun=true' : ''}`,
        undefined,
        p.token,
        JSON.stringify({ name: 'crons', cartridges: ['static'], env: { GREETING: 'hello' }, cron }),
      );
    const tick = 'echo tick $GREETING; echo oops >&2; exit 3';
    const same = await apply(
      [
        { schedule: '*/2 * * * * *', command: tick },
        { schedule: '* * * * * *', command: 'sleep 2.5; echo slow done' },
      ],
      true,
    );
    assert.equal(same.status, 200, JSON.stringify(same.body));
    assert.deepEqual(same.body.plan, []);
    const changed = [
      { schedule: '*/4 * * * * *', command: tick },
      { schedule: '@hourly', command: 'echo report' },
    ];
    for (const dryRun of [true, false]) {
      const res = await apply(changed, dryRun);
      assert.ok(res.status === 200 || res.status === 202, JSON.stringify(res.body));
      const plan = res.body.plan as { action: string; target: string; reason: string }[];
      assert.deepEqual(
        plan.map((i) => `${i.action} ${i.target}`),
        [`change cron ${tick}`, 'add cron echo report', 'remove cron sleep 2.5; echo slow done'],
      );
      assert.equal(plan[0].reason, 'its schedule */2 * * * * * → */4 * * * * *: the next push of the code schedules it so');
      assert.equal(res.body.operation ?? null, null, 'nothing to converge before the push');
    }
    // The release that serves keeps its entries until the next push.
    assert.deepEqual(
      (await cron()).entries.map((e) => e.schedule),
      ['*/2 * * * * *', '* * * * * *'],
    );
  });

  it('skips and logs a run whose entry is still running from the last time, and never runs two at once', async () => {
    const view = await eventually(
      'a skipped run of the slow entry, and two that ran',
      async () => {
        const v = await cron();
        const runs = v.entries[1].runs;
        return runs.some((r) => r.state === 'skipped') && runs.filter((r) => r.finishedAt && r.state !== 'skipped').length >= 2 && v;
      },
      30_000,
      500,
    );
    const runs = view.entries[1].runs;
    const skipped = runs.find((r) => r.state === 'skipped')!;
    assert.match(skipped.error ?? '', /previous run was still running/);
    assert.equal(skipped.exitCode, null);
    // Due every second, each run lasting 2.5 s: no run of the entry began before the one before it had ended.
    const ran = runs.filter((r) => r.startedAt && r.finishedAt).sort((a, b) => Date.parse(a.startedAt!) - Date.parse(b.startedAt!));
    assert.ok(ran.length >= 2, JSON.stringify(runs));
    for (let i = 1; i < ran.length; i++) assert.ok(Date.parse(ran[i].startedAt!) >= Date.parse(ran[i - 1].finishedAt!), JSON.stringify(ran));
    assert.match(p.logs(), /skipped: its previous run is still running/);
  });

  it('keeps only the newest runs of each entry', async () => {
    const rows = await eventually(
      'the tick entry to reach its limit of runs',
      async () => {
        const v = await cron();
        return v.entries[0].runs.length >= 20 && v.entries[0].runs;
      },
      90_000,
      1000,
    );
    assert.equal(rows.length, 20);
  });

  it('shows the entries, their next time and last outcome with gearshift cron', async () => {
    const login = await runCli(p, home, ['login', '--password-stdin'], `${p.adminPassword}\n`);
    assert.equal(login.code, 0, login.stderr);
    const out = await runCli(p, home, ['cron', 'crons', '-d', 'dev', '--output', '--runs', '20']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^SCHEDULE\s+COMMAND\s+PROCESS\s+NEXT\s+LAST$/m);
    // The entry, its process type, its next time and its last run (which may be going, or skipped, or ended).
    assert.match(out.stdout, /^\*\/2 \* \* \* \* \*\s+echo tick \$GREETING.*\s+web\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S/m);
    // The runs, each with how it ended.
    assert.match(out.stdout, /^COMMAND\s+DUE\s+RELEASE\s+TOOK\s+OUTCOME$/m);
    assert.match(out.stdout, /^echo tick \$GREETING.*\s+1\s+\d+\.\ds\s+exit 3$/m);
    assert.match(out.stdout, /skipped \(previous run still running\)/);
    assert.match(out.stdout, /^slow done$/m);
    assert.match(out.stdout, /^tick hello$/m);
    const json = await runCli(p, home, ['cron', 'crons', '-d', 'dev', '--json']);
    assert.equal((JSON.parse(json.stdout) as CronView).entries.length, 2);
  });

  it('records every run in the audit log, as run by the release’s deployer', async () => {
    const events = (await p.api('GET', '/audit?action=app.cron.run&limit=500')).body as {
      user: string;
      target: string;
      details: Record<string, unknown>;
      outcome: string;
    }[];
    const ticks = events.filter((e) => e.details.schedule === '*/2 * * * * *');
    assert.ok(ticks.length >= 2, JSON.stringify(events.slice(0, 3)));
    assert.equal(ticks[0].user, 'admin');
    assert.equal(ticks[0].target, 'dev/crons');
    assert.equal(ticks[0].details.exitCode, 3);
    assert.ok(events.some((e) => e.details.skipped === true && e.outcome === 'refused'));
  });

  it('goes on where the leading broker stopped when it is killed: the next leader runs the entries, each time once', async () => {
    const second = await freePort();
    await p.startBroker(second);
    const last = (await cron()).entries[0].runs[0].dueAt;
    await p.broker!.kill('SIGKILL');
    const view = await eventually(
      'runs of the tick entry by the broker that leads now',
      async () => {
        const res = await fetch(`http://127.0.0.1:${second}/api/v1${APP}/cron`, { headers: { authorization: `Bearer ${p.token}` } });
        if (res.status !== 200) return false;
        const v = (await res.json()) as CronView;
        return v.entries[0].runs.some((r) => Date.parse(r.dueAt) > Date.parse(last) + 4000 && r.finishedAt && r.state !== 'skipped') && v;
      },
      90_000,
      500,
    );
    const dues = view.entries[0].runs.map((r) => r.dueAt);
    assert.equal(new Set(dues).size, dues.length, `a time ran twice: ${dues.join(' ')}`);
    // A run the killed broker had going is ended by the next leader, not left running for ever.
    for (const r of view.entries[1].runs) if (Date.parse(r.dueAt) < Date.parse(last)) assert.notEqual(r.state, 'running', JSON.stringify(r));
    // The first broker back, for what follows.
    await p.startBroker();
  });

  it("runs an entry that names a service in that service's image, with its environment; refuses a service the file lacks", async () => {
    const refused = await deploy('cron:\n  - schedule: "@hourly"\n    command: "true"\n    service: mailer\n');
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    assert.match(refused.body.details[0].pointer, /\/cron\/0\/service$/);
    assert.match(refused.body.message ?? '', /mailer/);
    const res = await deploy(
      [
        'services:',
        '  ticker:',
        '    kind: worker',
        '    image: gearshift/base:trixie',
        '    command: while true; do sleep 5; done',
        '    env: { SAYING: hi }',
        'cron:',
        '  - schedule: "*/2 * * * * *"',
        '    command: echo "$SAYING from $GEARSHIFT_SERVICE"',
        '    service: ticker',
        '',
      ].join('\n'),
    );
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.operation.state, 'succeeded', JSON.stringify(res.body.operation));
    const view = await eventually(
      'a run of the entry in the ticker service',
      async () => {
        const v = await cron();
        return v.entries[0]?.runs.some((r) => r.state === 'succeeded' && r.release === v.release) && v;
      },
      60_000,
      500,
    );
    const [entry] = view.entries;
    assert.deepEqual([entry.service, entry.process], ['ticker', null]);
    assert.equal(entry.runs.find((r) => r.state === 'succeeded')?.output, 'hi from ticker\n');
  });

  it('counts cron runs against the run limit of one-off commands (GEARSHIFT_MAX_RUNS, 3): a time over it is skipped and logged', async () => {
    const entries = Array.from({ length: 6 }, (_, i) => `  - schedule: "* * * * * *"\n    command: sleep 3; echo ${i}\n`);
    const res = await deploy(`cron:\n${entries.join('')}`);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.operation.state, 'succeeded', JSON.stringify(res.body.operation));
    const view = await eventually(
      'runs skipped for the limit, and runs that ended',
      async () => {
        const v = await cron();
        const runs = v.entries.flatMap((e) => e.runs);
        return runs.some((r) => /GEARSHIFT_MAX_RUNS/.test(r.error ?? '')) && runs.filter((r) => r.finishedAt && r.startedAt).length >= 4 && v;
      },
      60_000,
      500,
    );
    const runs = view.entries.flatMap((e) => e.runs);
    const skipped = runs.find((r) => /GEARSHIFT_MAX_RUNS/.test(r.error ?? ''))!;
    assert.equal(skipped.state, 'skipped');
    assert.match(skipped.error!, /3 commands of the app's deployer were running, the most one user may \(GEARSHIFT_MAX_RUNS is 3\)/);
    // Never more than 3 at once across the app's entries.
    const ran = runs.filter((r) => r.startedAt).map((r) => [Date.parse(r.startedAt!), r.finishedAt ? Date.parse(r.finishedAt) : Infinity]);
    for (const [start] of ran) {
      const atOnce = ran.filter(([s, f]) => s <= start && f > start).length;
      assert.ok(atOnce <= 3, `${atOnce} runs at once: ${JSON.stringify(runs)}`);
    }
    assert.match(p.logs(), /skipped: 3 of at most 3 commands run \(GEARSHIFT_MAX_RUNS\)/);
    // The entries go, and the runs they had going end, before what follows counts runs.
    assert.equal((await deploy('')).status, 202);
    await new Promise((r) => setTimeout(r, 4000));
  });

  it('stops running entries that a new release no longer has', async () => {
    const res = await deploy('');
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.operation.state, 'succeeded', JSON.stringify(res.body.operation));
    assert.deepEqual((await cron()).entries, []);
    const before = (await p.api('GET', '/audit?action=app.cron.run&limit=500')).body.length as number;
    await new Promise((r) => setTimeout(r, 4000));
    const after = (await p.api('GET', '/audit?action=app.cron.run&limit=500')).body.length as number;
    // A run that had started before the release changed may still end and be recorded; no new one starts.
    assert.ok(after - before <= 2, `${after - before} runs recorded after the entries went`);
  });
});
