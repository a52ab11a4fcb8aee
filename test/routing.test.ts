import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent as HttpAgent } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSigned } from './support/certificates';
import { eventually, Platform, sleep } from './support/platform';

describe('routing by host name', { timeout: 600_000 }, () => {
  let p: Platform;
  const apps = '/domains/web/apps';
  const host = 'site-web.localhost';

  // The operator's certificate for the apps domain, served when no alias certificate matches.
  const operatorPair = selfSigned([host]);
  const operatorPem = join(mkdtempSync(join(tmpdir(), 'operator-')), 'apps.pem');
  writeFileSync(operatorPem, `${operatorPair.certificate}${operatorPair.key}`);

  before(async () => {
    p = await Platform.start('routing', { node1: {} }, { router: true, env: { GEARSHIFT_ROUTER_CERTIFICATE: operatorPem } });
    assert.equal((await p.api('POST', '/domains', { name: 'web' })).status, 201);
    const res = await p.api('POST', `${apps}?wait=120`, { name: 'site', cartridges: ['nodejs-18'] });
    assert.equal(res.body.operation?.state, 'succeeded', JSON.stringify(res.body));
  });
  after(async () => {
    await p?.stop();
  });

  const gearOf = (body: string) => (JSON.parse(body) as { gear: string }).gear;

  it('routes the app URL to the app', async () => {
    const res = await eventually(
      'the router to serve the new app',
      async () => {
        const r = await p.viaRouter(host);
        return r.status === 200 ? r : null;
      },
      15_000,
      100,
    );
    assert.equal(JSON.parse(res.body).app, 'site');
    const app = await p.api('GET', `${apps}/site`);
    assert.equal(app.body.url, `http://${host}:${p.routerPort}`, 'the URL names the router port');
  });

  it("serves the app URL over TLS with the operator's certificate", async () => {
    const res = await p.viaRouterTls(host, operatorPair.certificate);
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).app, 'site');
  });

  it('takes a host name in capitals or with the trailing dot of a full name, and answers a request naming no host with 400', async () => {
    for (const name of ['SITE-Web.localhost', `${host}.`, `${host}.:${p.routerPort}`]) {
      const r = await p.viaRouter(name);
      assert.equal(r.status, 200, `${name}: ${r.body.slice(0, 200)}`);
      assert.equal(JSON.parse(r.body).app, 'site');
    }
    const { createConnection } = await import('node:net');
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = createConnection(p.routerPort, '127.0.0.1', () => socket.write('GET / HTTP/1.0\r\n\r\n'));
      let text = '';
      socket.on('data', (c) => (text += c.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.[01] 400 /);
    assert.match(answer, /a request names the app it is for in its Host header/);
  });

  it('carries WebSockets to the app', async () => {
    const echoed = await new Promise<string>((resolve, reject) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port: p.routerPort,
        path: '/ws',
        headers: { host, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64') },
      });
      req.on('upgrade', (res, socket) => {
        assert.equal(res.statusCode, 101);
        const text = Buffer.from('hello through the router');
        const mask = randomBytes(4);
        const masked = Buffer.from(text.map((b, i) => b ^ mask[i % 4]));
        socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | text.length]), mask, masked]));
        socket.once('data', (frame: Buffer) => {
          resolve(frame.subarray(2, 2 + (frame[1] & 0x7f)).toString());
          socket.destroy();
        });
      });
      req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
      req.on('error', reject);
      req.end();
    });
    assert.equal(echoed, 'hello through the router');
  });

  it('answers an unknown host with a 404 page', async () => {
    const res = await p.viaRouter('nothing-here.localhost');
    assert.equal(res.status, 404);
    assert.match(res.body, /No app answers to this host name/);
  });

  it('serves aliases, and refuses an alias another app has or one in the apps domain', async () => {
    const added = await p.api('POST', `${apps}/site/aliases`, { host: 'www.site.test' });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(added.body.tls, false);
    await eventually('the alias to be served', async () => (await p.viaRouter('www.site.test')).status === 200, 15_000, 100);
    assert.equal((await p.api('POST', `${apps}/site/aliases`, { host: 'www.site.test' })).status, 409);
    assert.equal((await p.api('POST', `${apps}/site/aliases`, { host: 'evil-web.localhost' })).status, 422);
    assert.equal((await p.api('POST', `${apps}/site/aliases`, { host: 'not a host' })).status, 400);
    assert.equal((await p.api('DELETE', `${apps}/site/aliases/www.site.test`)).status, 204);
    await eventually('the removed alias to stop being served', async () => (await p.viaRouter('www.site.test')).status === 404, 15_000, 100);
  });

  it("serves an alias over TLS with the user's certificate, after checking the pair", async () => {
    const good = selfSigned(['secure.site.test']);
    const other = selfSigned(['other.site.test']);
    const mismatch = await p.api('POST', `${apps}/site/aliases`, { host: 'secure.site.test', certificate: good.certificate, key: other.key });
    assert.equal(mismatch.status, 422);
    assert.equal(mismatch.body.details[0].rule, 'key-matches');
    const wrongHost = await p.api('POST', `${apps}/site/aliases`, { host: 'secure.site.test', certificate: other.certificate, key: other.key });
    assert.equal(wrongHost.status, 422);
    assert.equal(wrongHost.body.details[0].rule, 'covers-host');
    const half = await p.api('POST', `${apps}/site/aliases`, { host: 'secure.site.test', certificate: good.certificate });
    assert.equal(half.status, 400);

    const added = await p.api('POST', `${apps}/site/aliases`, { host: 'secure.site.test', ...good });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(added.body.tls, true);
    assert.ok(!JSON.stringify(added.body).includes('PRIVATE KEY'), 'the key is never shown');
    const res = await eventually(
      'TLS to be served',
      async () => {
        const r = await p.viaRouterTls('secure.site.test', good.certificate).catch(() => null);
        return r?.status === 200 ? r : null;
      },
      15_000,
      200,
    );
    assert.equal(JSON.parse(res.body).app, 'site');
  });

  it('says a stopped app is stopped, and serves it again once started', async () => {
    const stopped = await p.api('POST', `${apps}/site/actions?wait=60`, { action: 'stop' });
    assert.equal(stopped.body.operation.state, 'succeeded');
    const page = await eventually(
      'the stopped page',
      async () => {
        const r = await p.viaRouter(host);
        return r.status === 503 && /is stopped/.test(r.body) ? r : null;
      },
      15_000,
      100,
    );
    assert.match(page.body, /site is stopped/);
    await p.api('POST', `${apps}/site/actions?wait=60`, { action: 'start' });
    await eventually('the app to be served again', async () => (await p.viaRouter(host)).status === 200, 15_000, 100);
  });

  it('scales 1 → 3 → 1 under a request loop without losing a request', async () => {
    const agent = new HttpAgent({ keepAlive: true, maxSockets: 4 });
    let ok = 0;
    const failures: string[] = [];
    const seen = new Set<string>();
    // Said with each failure: when in the scaling it came.
    let phase = 'at 1 gear';
    let running = true;
    const loop = (async () => {
      const deadline = Date.now() + 120_000;
      while (running && Date.now() < deadline) {
        try {
          const r = await p.viaRouter(host, '/', agent);
          if (r.status === 200) {
            ok++;
            seen.add(gearOf(r.body));
          } else failures.push(`${phase}: status ${r.status}`);
        } catch (err) {
          failures.push(`${phase}: ${(err as Error).message}`);
        }
      }
    })();
    await sleep(500);
    phase = 'scaling up';
    const up = await p.api('PUT', `${apps}/site/scale?wait=120`, { replicas: 3 });
    assert.equal(up.body.operation.state, 'succeeded', up.body.operation.error);
    phase = 'at 3 gears';
    await eventually('all three gears to take requests', async () => seen.size >= 3, 20_000, 100).catch((err) => {
      throw new Error(`${err.message} (saw ${seen.size})\n${p.logs()}`);
    });
    phase = 'scaling down';
    const down = await p.api('PUT', `${apps}/site/scale?wait=120`, { replicas: 1 });
    assert.equal(down.body.operation.state, 'succeeded', down.body.operation.error);
    phase = 'back at 1 gear';
    await sleep(2000);
    running = false;
    await loop;
    agent.destroy();
    assert.deepEqual([...new Set(failures)], [], `${failures.length} of ${ok + failures.length} requests failed\n${p.logs()}`);
    assert.ok(ok > 100, `only ${ok} requests went through`);
    assert.equal((await p.api('GET', `${apps}/site`)).body.scale, 1);
  });

  it('follows the logs of gears that start while it follows, and of gears started again', async () => {
    const before = new Set((await p.api('GET', `${apps}/site`)).body.gears.map((g: { id: string }) => g.id));
    const follow = await p.follow(`${apps}/site/logs?tail=0&follow=true`);
    assert.equal(follow.status, 200);
    const up = await p.api('PUT', `${apps}/site/scale?wait=120`, { replicas: 2 });
    assert.equal(up.body.operation.state, 'succeeded', up.body.operation.error);
    const added = up.body.gears.find((g: { id: string }) => !before.has(g.id));
    const line = `[nodejs-18 ${added.id.replace(/-/g, '').slice(0, 8)}] starter app listening on 8080`;
    await eventually("the new gear's first line in the followed stream", async () => follow.text().includes(line), 15_000, 100).catch((err) => {
      throw new Error(`${err.message}\nseen:\n${follow.text()}`);
    });
    // Stopped and started again (the same containers): the stream carries on with their new output.
    assert.equal((await p.api('POST', `${apps}/site/actions?wait=60`, { action: 'stop' })).body.operation.state, 'succeeded');
    assert.equal((await p.api('POST', `${apps}/site/actions?wait=60`, { action: 'start' })).body.operation.state, 'succeeded');
    await eventually("the gear's line after its start", async () => follow.text().split(line).length - 1 >= 2, 15_000, 100).catch((err) => {
      throw new Error(`${err.message}\nseen:\n${follow.text()}`);
    });
    await follow.stop();
    assert.equal((await p.api('PUT', `${apps}/site/scale?wait=120`, { replicas: 1 })).body.operation.state, 'succeeded');
  });
});
