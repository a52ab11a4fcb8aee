import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { docker, eventually, getJson, Platform, psqlIn } from './support/platform';

/** A crash or restart of an agent or the broker loses nothing that was acknowledged; data in volumes survives. */
describe('resilience', { timeout: 600_000 }, () => {
  let p: Platform;
  const apps = '/domains/tough/apps';

  before(async () => {
    p = await Platform.start('resilience');
    assert.equal((await p.api('POST', '/domains', { name: 'tough' })).status, 201);
  });
  after(async () => {
    await p?.stop();
  });

  const psql = (app: string, sql: string) => psqlIn(p, app, sql);

  it('finishes an operation whose agent was killed half-way, once the agent is back', async () => {
    const res = await p.api('POST', apps, { name: 'crashy', cartridges: ['nodejs-18', 'postgresql-15'] });
    assert.equal(res.status, 202);
    const opId = res.body.operation.id;
    await eventually(
      'the agent to be half-way through',
      async () => {
        const op = await p.api('GET', `/operations/${opId}`);
        return op.body.steps.some((s: { text: string }) => /creating gear/.test(s.text));
      },
      60_000,
      20,
    );
    await p.stopAgent('node1', 'SIGKILL');
    const mid = await p.api('GET', `/operations/${opId}`);
    assert.ok(['queued', 'running'].includes(mid.body.state), `the kill came too late: ${mid.body.state}`);
    await p.startAgent('node1');
    const done = await p.api('GET', `/operations/${opId}?wait=120`);
    assert.ok(['succeeded', 'failed'].includes(done.body.state), `operation still ${done.body.state}\n${p.logs()}`);
    assert.equal(done.body.state, 'succeeded', done.body.error);
    const app = await p.api('GET', `${apps}/crashy`);
    assert.equal(app.body.status, 'running');
    const web = app.body.gears.find((g: { cartridge: string }) => g.cartridge === 'nodejs-18');
    assert.equal((await getJson(web.endpoints.http))?.body.database.reachable, true);
    // Exactly one container per gear: the re-delivered job did no harm.
    assert.equal((await p.containers({ 'gearshift.app-name': 'crashy' })).length, 2);
  });

  it('keeps database rows across a restart of the app', async () => {
    await psql('crashy', "create table notes (body text); insert into notes values ('kept')");
    const restarted = await p.api('POST', `${apps}/crashy/actions?wait=120`, { action: 'restart' });
    assert.equal(restarted.body.operation.state, 'succeeded', restarted.body.operation.error);
    assert.equal(await psql('crashy', 'select body from notes'), 'kept');
  });

  it('loses no acknowledged operation when the broker dies right after answering', async () => {
    const res = await p.api('POST', apps, { name: 'orphaned', cartridges: ['static'] });
    assert.equal(res.status, 202);
    await p.stopBroker('SIGKILL');
    await p.startBroker();
    const done = await p.api('GET', `/operations/${res.body.operation.id}?wait=120`);
    assert.equal(done.body.state, 'succeeded', `${done.body.error}\n${p.logs()}`);
    const app = await p.api('GET', `${apps}/orphaned`);
    assert.equal(app.body.status, 'running');
    assert.equal((await fetch(app.body.gears[0].endpoints.http)).status, 200);
  });

  it('keeps the gears running while the agent is down, and reconciles when it returns', async () => {
    await p.stopAgent('node1', 'SIGKILL');
    const [web] = await p.containers({ 'gearshift.app-name': 'orphaned' });
    assert.equal(web.State, 'running', 'gears do not depend on the agent process');
    await docker.getContainer(web.Id).remove({ force: true });
    await p.startAgent('node1');
    await eventually(
      'the gear removed while the agent was down to come back',
      async () => {
        const [c] = await p.containers({ 'gearshift.app-name': 'orphaned' });
        return c?.State === 'running';
      },
      30_000,
    );
  });
});
