import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import IORedis from 'ioredis';
import { routesChannel, routesKey } from '@gearshift/cartridges';
import { eventually, Platform, sleep } from './support/platform';
import { hostRequest } from './support/http';
import { freePort } from './support/processes';
import { haproxyPid, ScriptedPlatform, TrafficLoad } from './support/scripted';
import { REDIS_URL } from './support/stores';

/**
 * Traffic outlives the control plane: while about 20 requests a second go to an app through the router, neither a
 * kill -9 of the router nor `npm run down` followed by `npm run up -- --detach` fails one of them, because HAProxy
 * keeps serving without the router and the next router takes it over. A router that finds no HAProxy starts one
 * from the configuration last applied, before it has heard from Redis. Runs alone (see scripts/test.sh): the real
 * `npm run up` compiles the project in place.
 */

async function stopHaproxy(routerDir: string): Promise<void> {
  const pid = haproxyPid(routerDir);
  if (!pid) return;
  process.kill(pid, 'SIGTERM');
  await eventually('HAProxy to stop', async () => haproxyPid(routerDir) === 0, 15_000, 50);
}

describe('traffic outlives the router', { timeout: 600_000 }, () => {
  let p: Platform;
  const host = 'web-outlive.localhost';
  const routerDir = () => join(p.dataDir, 'router');

  before(async () => {
    p = await Platform.start('outlives', { node1: {} }, { router: true });
    assert.equal((await p.api('POST', '/domains', { name: 'outlive' })).status, 201);
    const res = await p.api('POST', '/domains/outlive/apps?wait=120', { name: 'web', cartridges: ['static'] });
    assert.equal(res.body.operation?.state, 'succeeded', `${JSON.stringify(res.body)}\n${p.logs()}`);
    await eventually('the router to serve the app', async () => (await p.viaRouter(host).catch(() => null))?.status === 200, 60_000, 100);
  });
  after(async () => {
    await p?.stop();
  });

  it('fails no request while the router is killed with kill -9 and started again', async () => {
    const haproxy = haproxyPid(routerDir());
    assert.ok(haproxy > 0, 'HAProxy runs');
    const load = new TrafficLoad(p.routerPort, host);
    await sleep(1000);
    await p.router!.kill('SIGKILL');
    await sleep(1000);
    await p.startRouter();
    await eventually('the new router to take HAProxy over', async () => p.router!.output.some((l) => l.includes(`took over haproxy ${haproxy}`)), 30_000, 50);
    await sleep(2000);
    await load.stop();
    console.log(`# ${load.summary('kill -9 of the router')}`);
    assert.deepEqual(load.failed.slice(0, 5), [], load.summary('kill -9 of the router'));
    assert.ok(load.answers.length > 40, `only ${load.answers.length} requests were sent`);
  });

  it('leaves HAProxy serving when the router stops', async () => {
    const haproxy = haproxyPid(routerDir());
    const load = new TrafficLoad(p.routerPort, host);
    await sleep(500);
    await p.router!.kill('SIGTERM');
    await sleep(1500);
    await load.stop();
    assert.deepEqual(load.failed.slice(0, 5), [], load.summary('the router stopped'));
    assert.equal(haproxyPid(routerDir()), haproxy, 'the same HAProxy serves on');
    assert.ok(
      p.router!.output.some((l) => new RegExp(`leaving haproxy ${haproxy} serving routes version \\d+`).test(l)),
      p.router!.output.slice(-10).join('\n'),
    );
  });

  it('starts HAProxy from the configuration last applied, before Redis answers', async () => {
    await stopHaproxy(routerDir());
    // Nothing listens on this port: the route table cannot be read, so whatever is served comes from the disk.
    const unreachable = `redis://127.0.0.1:${await freePort()}`;
    const first = (async () => {
      for (;;) {
        const r = await p.viaRouter(host).catch(() => null);
        if (r) return r;
        await sleep(10);
      }
    })();
    await p.startRouter({ REDIS_URL: unreachable });
    const answer = await first;
    assert.equal(answer.status, 200, `the first answer is the app's, not ${answer.status}:\n${answer.body.slice(0, 300)}\n${p.logs()}`);
    assert.ok(
      p.router!.output.some((l) => /starting haproxy with the configuration last applied \(routes version \d+, 1 app\(s\)\)/.test(l)),
      p.router!.output.slice(-10).join('\n'),
    );
    await p.router!.kill('SIGTERM');
  });

  it('falls back to no routes, loudly, when HAProxy refuses the saved configuration, then catches up', async () => {
    await stopHaproxy(routerDir());
    writeFileSync(join(routerDir(), 'haproxy.cfg'), 'this is not a configuration\n');
    await p.startRouter();
    assert.ok(
      p.router!.output.some((l) => l.includes('WARNING: HAProxy refuses the configuration last applied; starting with no routes')),
      p.router!.output.slice(-10).join('\n'),
    );
    await eventually('the router to serve the app again', async () => (await p.viaRouter(host).catch(() => null))?.status === 200, 30_000, 100);
  });

  it('keeps the routes it serves when the route table is gone from Redis', async () => {
    const redis = new IORedis(REDIS_URL);
    try {
      // As after Redis lost its data: no table, and the broker has nothing new to publish.
      await redis.del(routesKey(p.instance));
      await redis.publish(routesChannel(p.instance), '0');
      await eventually(
        'the router to notice',
        async () => p.router!.output.some((l) => /no route table in Redis; serving routes version \d+/.test(l)),
        15_000,
        50,
      );
      const load = new TrafficLoad(p.routerPort, host);
      await sleep(1500);
      await load.stop();
      assert.deepEqual(load.failed.slice(0, 5), [], load.summary('no route table in Redis'));
    } finally {
      redis.disconnect();
    }
  });
});

describe('traffic outlives npm run down and npm run up', { timeout: 900_000 }, () => {
  const p = new ScriptedPlatform('outlives-up');
  const host = 'web-updown.localhost';

  before(async () => {
    await p.start();
    assert.equal((await p.api('POST', '/domains', { name: 'updown' })).status, 201);
    const res = await p.api('POST', '/domains/updown/apps?wait=120', { name: 'web', cartridges: ['static'] });
    assert.equal(res.body.operation?.state, 'succeeded', JSON.stringify(res.body));
    await eventually('the router to serve the app', async () => (await hostRequest(p.routerPort, host).catch(() => null))?.status === 200, 60_000, 100);
  });
  after(async () => {
    await p.remove();
    assert.equal(p.haproxyPid(), 0, 'npm run down -- --all stopped HAProxy');
  });

  it('fails no request during npm run down and npm run up -- --detach', async () => {
    const load = new TrafficLoad(p.routerPort, host);
    await sleep(1000);
    const down = await p.script('down');
    await sleep(1000);
    await p.script('up', '--detach');
    await sleep(3000);
    await load.stop();
    console.log(`# ${load.summary('npm run down, then npm run up -- --detach')}`);
    assert.deepEqual(load.failed.slice(0, 5), [], load.summary('npm run down + up'));
    assert.ok(load.answers.length > 60, `only ${load.answers.length} requests were sent`);
    assert.match(down, /HAProxy \(pid \d+\) keeps serving the apps/, down);
    assert.match(p.log('router'), /took over haproxy \d+, left running by an earlier router/);
  });
});
