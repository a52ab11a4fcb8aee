import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent as HttpAgent } from 'node:http';
import { Platform } from './support/platform';

/** `?wait` means serving, end to end through the REST API and the router. */
describe('health-gated changes and ?wait meaning serving', { timeout: 900_000 }, () => {
  let p: Platform;
  const apps = '/domains/gated/apps';

  before(async () => {
    // A short bound, so that the test of a router that never confirms does not wait long.
    p = await Platform.start('gated', { node1: {} }, { router: true, env: { GEARSHIFT_ROUTES_ACK_TIMEOUT_MS: '4000' } });
    assert.equal((await p.api('POST', '/domains', { name: 'gated' })).status, 201);
    const res = await p.api('POST', `${apps}?wait=180`, { name: 'shop', cartridges: ['nodejs-18'] });
    assert.equal(res.body.operation?.state, 'succeeded', JSON.stringify(res.body));
  });
  after(async () => {
    await p?.stop();
  });

  it('answers 200 to the first request after create?wait, 20 times in a row', async () => {
    // A new connection for each first request, as a client that resolves the new app's host name opens one. (Here
    // every host is reached at 127.0.0.1, and a pooled connection from before a reload would be answered once more by
    // the previous HAProxy worker, which never knew the new host.)
    const fresh = new HttpAgent({ keepAlive: false });
    for (let i = 0; i < 20; i++) {
      const name = `s${i}`;
      const created = await p.api('POST', `${apps}?wait=120`, { name, cartridges: ['static'] });
      assert.equal(created.body.operation?.state, 'succeeded', JSON.stringify(created.body));
      const r = await p.viaRouter(`${name}-gated.localhost`, '/', fresh);
      assert.equal(r.status, 200, `app ${name}, first request: ${r.status} ${r.body.slice(0, 200)}\n${await p.routingState(`${apps}/${name}`)}`);
      const steps: string[] = created.body.operation.steps.map((s: { text: string }) => s.text);
      assert.ok(steps.includes('1 router(s) serve the new routes'), steps.join('\n'));
      await p.api('DELETE', `${apps}/${name}`);
    }
  });

  it('ends an operation with a warning when a router does not confirm the new routes in time', async () => {
    // A router killed without a chance to say goodbye still counts as live for a while; the bound ends the wait.
    await p.router!.kill('SIGKILL');
    const res = await p.api('PUT', `${apps}/shop/scale?wait=180`, { replicas: 1 });
    const op = res.body.operation;
    assert.equal(op?.state, 'succeeded', JSON.stringify(op));
    assert.ok(op.steps.some((s: { text: string }) => /^warning: router\(s\) \S+ did not confirm the new routes within 4 s/.test(s.text)), JSON.stringify(op.steps));
  });
});
