import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, sleep } from './support/platform';
import { hostRequest } from './support/http';
import { ROOT } from './support/processes';
import { ScriptedPlatform, TrafficLoad } from './support/scripted';
import { currentCommit, EarlierCheckout, psqlInApp, upgradeFrom } from './support/upgrade';

/**
 * An upgrade never takes apps offline: the previous commit of this repository (GEARSHIFT_UPGRADE_FROM to choose
 * another) is checked out in a temporary folder and brought up with its own data directory, ports, instance and
 * database; it gets a static app and an app with a database holding a row; then, while about 20 requests a second
 * go to each app through the router, this checkout's `npm run up` replaces the running platform. No request fails,
 * every app and the row are still there, and the broker answers with this checkout's version. Runs alone (see
 * scripts/test.sh): `npm run up` compiles each checkout in place.
 */
describe('npm run up on a newer checkout', { timeout: 1_500_000 }, () => {
  const from = upgradeFrom();
  let earlier: EarlierCheckout | undefined;
  const p = new ScriptedPlatform('upgrade');
  const hosts = { web: 'web-upg.localhost', db: 'db-upg.localhost' };

  before(async () => {
    earlier = new EarlierCheckout(from);
    p.checkout = earlier.dir;
    earlier.build();
    await p.start();
    assert.equal((await p.api('POST', '/domains', { name: 'upg' })).status, 201);
    for (const [name, cartridges] of [
      ['web', ['static']],
      ['db', ['static', 'postgresql-15']],
    ] as const) {
      const res = await p.api('POST', '/domains/upg/apps?wait=180', { name, cartridges });
      assert.equal(res.body.operation?.state, 'succeeded', JSON.stringify(res.body));
    }
    await eventually(
      'the database to take a row',
      async () => {
        const out = await psqlInApp(
          p.instance,
          'db',
          "create table if not exists notes (body text); insert into notes values ('kept across the upgrade'); select count(*) from notes",
        ).catch(() => '');
        return /^\d+$/.test(out.trim().split('\n').pop() ?? '');
      },
      60_000,
      1000,
    );
    for (const host of Object.values(hosts))
      await eventually(`the router to serve ${host}`, async () => (await hostRequest(p.routerPort, host).catch(() => null))?.status === 200, 60_000, 100);
  });
  after(async () => {
    // `npm run down -- --all` of whichever checkout runs the platform now.
    await p.remove();
    earlier?.remove();
    assert.equal(p.haproxyPid(), 0, 'HAProxy was stopped');
  });

  it('replaces broker, agent and router one at a time with no failed request', async () => {
    const to = currentCommit();
    assert.notEqual(from, to, 'the upgrade starts from another commit');
    const before = (await p.api('GET', '/healthz')).body;
    const loads = Object.values(hosts).map((host) => new TrafficLoad(p.routerPort, host));
    await sleep(1000);
    p.checkout = ROOT;
    const out = await p.script('up', '--detach');
    await sleep(3000);
    await Promise.all(loads.map((l) => l.stop()));
    const summaries = loads.map((l, i) => l.summary(`upgrade ${from.slice(0, 7)} → ${to.slice(0, 7)}, ${Object.values(hosts)[i]}`));
    for (const s of summaries) console.log(`# ${s}`);
    const worst = loads.reduce((a, b) => (b.longestGap > a.longestGap ? b : a));
    console.log(`# longest gap between good answers during the upgrade: ${worst.longestGap} ms, ended ${new Date(worst.longestGapEnded).toISOString()}`);
    // The roll as the supervisor logged it, to set the gap beside.
    for (const line of p
      .log('supervisor')
      .split('\n')
      .filter((l) => /^\S+Z supervisor (retired|\w+: |done)/.test(l)))
      console.log(`# ${line}`);
    for (const [i, l] of loads.entries()) assert.deepEqual(l.failed.slice(0, 5), [], `${summaries[i]}\n${out}\n${p.logs()}`);
    assert.ok(
      loads.every((l) => l.answers.length > 40),
      `too few requests were sent: ${summaries.join('; ')}`,
    );

    assert.match(out, /upgrading it in place, one part at a time/, out);
    for (const part of ['broker', 'agent', 'router']) assert.match(out, new RegExp(`${part}: replaced in`), out);
    assert.match(p.log('router'), /took over haproxy \d+, left running by an earlier router/);

    const health = await p.api('GET', '/healthz');
    assert.equal(health.status, 200, JSON.stringify(health.body));
    assert.equal(
      health.body.version?.commit,
      currentCommit(),
      `the broker answers with this checkout's version (was ${JSON.stringify(before.version ?? null)})`,
    );
    assert.ok(
      health.body.nodes.some((n: { ready: boolean }) => n.ready),
      JSON.stringify(health.body),
    );
    for (const app of ['web', 'db']) assert.equal((await p.api('GET', `/domains/upg/apps/${app}`)).status, 200, `app ${app} is still there`);
    assert.match(await psqlInApp(p.instance, 'db', 'select body from notes'), /kept across the upgrade/);
    for (const host of Object.values(hosts)) assert.equal((await hostRequest(p.routerPort, host)).status, 200, `${host} answers after the upgrade`);
  });
});
