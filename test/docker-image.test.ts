import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { hashFolder } from '@gearshift/cartridges';
import { docker, execIn, Platform, psqlIn, ROOT, sleep } from './support/platform';

/**
 * The docker-image cartridge: any public image a user names (here one already on the node: no public registry is
 * reachable from this machine), with its port, environment and volumes, under the same limits and labels as every
 * gear. The platform's own registry holds only releases; test/registry-auth.test.ts covers what may run from it.
 */
describe('docker-image cartridge and per-cartridge gear sizes', { timeout: 600_000 }, () => {
  let p: Platform;
  const apps = '/domains/img/apps';
  let image: string;
  /** Images the tests below make from the base image, removed at the end. */
  const made: string[] = [];

  before(async () => {
    p = await Platform.start('dockerimage');
    assert.equal((await p.api('POST', '/domains', { name: 'img' })).status, 201);
    // A user's public image: the Node.js cartridge's image under a Docker Hub name, present on the node.
    image = `${p.instance}/team-api:1.0`;
    const source = `gearshift/nodejs-18:${hashFolder(join(ROOT, 'cartridges/nodejs-18'))}`;
    await docker.getImage(source).tag({ repo: image.slice(0, image.lastIndexOf(':')), tag: '1.0' });
  });
  after(async () => {
    for (const name of [image, ...made])
      await docker
        .getImage(name)
        .remove({ force: true })
        .catch(() => undefined);
    await p?.stop();
  });

  it('runs a named image with its port, environment and volume, wired to a database', async () => {
    const res = await p.api('POST', `${apps}?wait=180`, {
      name: 'api',
      cartridges: [
        {
          name: 'docker-image',
          image,
          port: 3000,
          health: '/health',
          env: { PORT: '3000', GREETING: 'from my image' },
          volumes: [{ name: 'uploads', path: '/home/gear' }],
        },
        'postgresql-15',
      ],
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.operation.state, 'succeeded', res.body.operation.error);
    const gear = res.body.gears.find((g: { cartridge: string }) => g.cartridge === 'docker-image');
    const answer = (await (await fetch(gear.endpoints.http)).json()) as { app: string; database: { reachable: boolean } };
    assert.equal(answer.app, 'api');
    assert.equal(answer.database.reachable, true, JSON.stringify(answer));
    const [c] = await p.containers({ 'gearshift.app-name': 'api', 'gearshift.cartridge': 'docker-image' });
    const info = await docker.getContainer(c.Id).inspect();
    assert.equal(info.Config.Image, image);
    assert.ok(info.Config.Env.includes('GREETING=from my image'));
    assert.equal(info.HostConfig.Memory, 256 * 1024 * 1024, 'the same limits as every gear');
    assert.equal(info.Config.Labels['gearshift.instance'], p.instance);
    assert.deepEqual(
      info.Mounts.map((m) => m.Destination),
      ['/home/gear'],
      "a new volume takes the ownership of the image's directory",
    );
    assert.equal(await execIn(c.Id, ['sh', '-c', 'echo kept > /home/gear/file && cat /home/gear/file']), 'kept');
    assert.equal(await psqlIn(p, 'api', 'select 1'), '1');
  });

  it('says plainly when the image cannot be pulled, and makes nothing', async () => {
    const res = await p.api('POST', `${apps}?wait=120`, {
      name: 'missing',
      // A public registry that answers nothing: a port on loopback where none listens.
      cartridges: [{ name: 'docker-image', image: `127.0.0.1:9/${p.instance}/nothing:here`, port: 8080 }],
    });
    assert.equal(res.body.operation.state, 'failed');
    assert.match(
      res.body.operation.error,
      /image 127\.0\.0\.1:9\/.*nothing:here could not be pulled: .*\(a public image: this node fetches it from its registry, 127\.0\.0\.1:9/,
    );
    assert.equal((await p.containers({ 'gearshift.app-name': 'missing' })).length, 0);
    // Retrying ends: the gear stays failed with the reason, through the heartbeats that used to converge it again.
    await sleep(12_000);
    const gears = (await p.api('GET', `${apps}/missing`)).body.gears as { state: string; message: string | null }[];
    assert.ok(gears.length > 0);
    for (const g of gears) {
      assert.equal(g.state, 'failed', JSON.stringify(gears));
      assert.match(g.message ?? '', /could not be pulled/);
    }
  });

  it('refuses what a cartridge does not take, and an image-less docker-image, naming the field', async () => {
    const noImage = await p.api('POST', apps, { name: 'noimage', cartridges: [{ name: 'docker-image', port: 80 }] });
    assert.equal(noImage.status, 422);
    assert.equal(noImage.body.details[0].pointer, '/cartridges/0/image');
    const notHere = await p.api('POST', apps, { name: 'nothere', cartridges: [{ name: 'nodejs-18', image: 'x:1' }] });
    assert.equal(notHere.status, 422);
    assert.equal(notHere.body.details[0].pointer, '/cartridges/0/image');
    assert.equal(notHere.body.details[0].rule, 'docker-image-only');
    const badPort = await p.api('POST', apps, { name: 'badport', cartridges: [{ name: 'docker-image', image: 'x:1', port: 70000 }] });
    assert.equal(badPort.status, 400);
    assert.equal((await p.api('GET', apps)).body.length, 2, 'nothing half-made');
  });

  it('gives a cartridge its own gear size, checked against what it allows, and counted by the scheduler', async () => {
    const res = await p.api('POST', `${apps}?wait=180`, { name: 'sized', cartridges: ['static', { name: 'redis-7', size: 'medium' }] });
    assert.equal(res.body.operation.state, 'succeeded', res.body.operation.error);
    const [redis] = await p.containers({ 'gearshift.app-name': 'sized', 'gearshift.cartridge': 'redis-7' });
    const [web] = await p.containers({ 'gearshift.app-name': 'sized', 'gearshift.cartridge': 'static' });
    assert.equal((await docker.getContainer(redis.Id).inspect()).HostConfig.Memory, 1024 * 1024 * 1024);
    assert.equal((await docker.getContainer(web.Id).inspect()).HostConfig.Memory, 256 * 1024 * 1024);
    const bad = await p.api('POST', apps, { name: 'toobig', cartridges: ['static', { name: 'redis-7', size: 'huge' }] });
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.body.details), /\/cartridges\/1/);
  });

  it('does not call a gear healthy that exits again and again: the create fails and says why', async () => {
    // The base image's command is a shell that exits at once without a terminal: Docker restarts it in a loop, while
    // its port proxy still takes connections on the published port.
    const looping = `${p.instance}/loop:1`;
    await docker.getImage('gearshift/base:bookworm').tag({ repo: looping.slice(0, looping.lastIndexOf(':')), tag: '1' });
    made.push(looping);
    const res = await p.api('POST', `${apps}?wait=60`, { name: 'looping', cartridges: [{ name: 'docker-image', image: looping, port: 8080 }] });
    assert.equal(res.body.operation.state, 'failed', JSON.stringify(res.body.operation));
    assert.match(res.body.operation.error, /gear docker-image \w+ stopped with exit code \d+ before it passed its health check/);
    assert.ok(!res.body.operation.steps.some((s: { text: string }) => /is healthy/.test(s.text)), JSON.stringify(res.body.operation.steps));
  });

  it('does not call a gear healthy that runs but never listens on its port', async () => {
    // The base image, sleeping: the container runs, nothing in it listens.
    const sleeping = `${p.instance}/sleeper:1`;
    await docker.getImage('gearshift/base:bookworm').tag({ repo: sleeping.slice(0, sleeping.lastIndexOf(':')), tag: '1' });
    made.push(sleeping);
    const res = await p.api('POST', `${apps}?wait=15`, {
      name: 'sleeper',
      cartridges: [{ name: 'docker-image', image: sleeping, port: 8080, command: ['sleep', 'infinity'] }],
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const steps = (res.body.operation.steps as { text: string }[]).map((s) => s.text);
    assert.notEqual(res.body.operation.state, 'succeeded', steps.join('\n'));
    assert.ok(
      steps.some((s) => /waiting for docker-image \w+ to pass its health check/.test(s)),
      steps.join('\n'),
    );
    assert.ok(!steps.some((s) => /is healthy/.test(s)), steps.join('\n'));
    const [gear] = await p.containers({ 'gearshift.app-name': 'sleeper', 'gearshift.cartridge': 'docker-image' });
    assert.equal(gear.State, 'running', 'the container runs: only its port is silent');
    await p.api('DELETE', `${apps}/sleeper`);
  });
});
