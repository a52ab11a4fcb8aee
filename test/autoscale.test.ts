import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { eventually, Platform, sleep } from './support/platform';

/** Apps grow with their traffic, shrink when it is gone, and sleep when nobody asks for them. */
describe('autoscaling and idling', { timeout: 600_000 }, () => {
  let p: Platform;
  const apps = '/domains/load/apps';

  before(async () => {
    p = await Platform.start(
      'autoscale',
      { node1: {} },
      {
        router: true,
        // Short cooldowns so that the test does not wait minutes; the defaults are 10 s up and 60 s down.
        env: { GEARSHIFT_AUTOSCALE_INTERVAL_MS: '500', GEARSHIFT_SCALE_UP_COOLDOWN_MS: '1000', GEARSHIFT_SCALE_DOWN_COOLDOWN_MS: '4000' },
      },
    );
    assert.equal((await p.api('POST', '/domains', { name: 'load' })).status, 201);
  });
  after(async () => {
    await p?.stop();
  });

  it('refuses autoscaling bounds outside the cartridge limits', async () => {
    const created = await p.api('POST', `${apps}?wait=120`, { name: 'busy', cartridges: ['nodejs-18'] });
    assert.equal(created.body.operation?.state, 'succeeded', JSON.stringify(created.body));
    assert.equal((await p.api('PUT', `${apps}/busy/scale`, { min: 1, max: 11 })).status, 422);
    const backwards = await p.api('PUT', `${apps}/busy/scale`, { min: 3, max: 2 });
    assert.equal(backwards.status, 422);
    assert.deepEqual([backwards.body.details[0].pointer, backwards.body.details[0].rule], ['/min', 'range']);
    assert.equal((await p.api('PUT', `${apps}/busy/scale`, { min: 1 })).status, 400);
    const kinds = ((await p.api('GET', `${apps}/busy/operations`)).body as { kind: string }[]).map((o) => o.kind);
    assert.ok(!kinds.includes('app.scale'), `a refused scale begins no operation: ${kinds.join(', ')}`);
  });

  it('scales up under a burst and back down when it is over, each time saying why', async () => {
    const set = await p.api('PUT', `${apps}/busy/scale?wait=60`, { min: 1, max: 3, targetConcurrency: 2 });
    assert.equal(set.status, 202);
    assert.deepEqual(set.body.autoscale, { min: 1, max: 3, targetConcurrency: 2 });
    const host = 'busy-load.localhost';
    await eventually('the router to serve busy', async () => (await p.viaRouter(host)).status === 200, 15_000, 100);

    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    let load = true;
    let failures = 0;
    const loops = Array.from({ length: 8 }, async () => {
      while (load) {
        const r = await p.viaRouter(host, '/slow?ms=300', agent).catch(() => ({ status: 0 }));
        if (r.status !== 200) failures++;
      }
    });
    try {
      await eventually('busy to scale up to 3 gears', async () => (await p.api('GET', `${apps}/busy`)).body.scale === 3, 60_000, 250);
    } finally {
      load = false;
      await Promise.all(loops);
      agent.destroy();
    }
    assert.equal(failures, 0, 'no request failed while scaling up');
    await eventually('busy to scale back down to 1 gear', async () => (await p.api('GET', `${apps}/busy`)).body.scale === 1, 60_000, 250);

    const ops = (await p.api('GET', `${apps}/busy/operations`)).body as { kind: string; by: string; steps: { text: string }[] }[];
    const autoscale = ops.filter((o) => o.kind === 'app.autoscale');
    assert.ok(autoscale.length >= 2, `expected scale events, got ${JSON.stringify(ops.map((o) => o.kind))}`);
    assert.ok(autoscale.every((o) => o.by === 'platform'));
    assert.ok(
      autoscale.some((o) => /autoscale to [23] gear\(s\): \d+ concurrent requests/.test(o.steps[0].text)),
      JSON.stringify(autoscale.map((o) => o.steps[0].text)),
    );
    assert.ok(autoscale.some((o) => /autoscale to 1 gear\(s\)/.test(o.steps[0].text)));
  });

  it('idles a quiet app and wakes it on the next request, which is answered', async () => {
    const created = await p.api('POST', `${apps}?wait=120`, { name: 'sleepy', cartridges: ['nodejs-18'] });
    assert.equal(created.body.operation?.state, 'succeeded');
    const patched = await p.api('PATCH', `${apps}/sleepy`, { idleAfterSeconds: 2 });
    assert.equal(patched.body.idleAfterSeconds, 2);
    await eventually(
      'sleepy to idle',
      async () => {
        const app = await p.api('GET', `${apps}/sleepy`);
        return app.body.state === 'idle' && app.body.gears.every((g: { state: string }) => g.state !== 'running');
      },
      30_000,
      250,
    );
    const [container] = await p.containers({ 'gearshift.app-name': 'sleepy' });
    assert.notEqual(container.State, 'running', 'the web gear sleeps');

    await sleep(500);
    const t0 = Date.now();
    // The request waits while the gear starts: on a loaded machine that is longer than an ordinary request's 5 s.
    const answer = await p.viaRouter('sleepy-load.localhost', '/', new Agent({ keepAlive: false }), 60_000);
    const wakeMs = Date.now() - t0;
    assert.equal(answer.status, 200, answer.body);
    assert.equal(JSON.parse(answer.body).app, 'sleepy');
    const app = await p.api('GET', `${apps}/sleepy`);
    assert.equal(app.body.state, 'started');
    const ops = (await p.api('GET', `${apps}/sleepy/operations`)).body as { kind: string; steps: { text: string }[] }[];
    assert.ok(ops.some((o) => o.kind === 'app.idle' && /no request for \d+ s/.test(o.steps[0].text)));
    assert.ok(ops.some((o) => o.kind === 'app.wake'));
    console.log(`# woke sleepy and answered its first request in ${wakeMs} ms`);
  });
});
