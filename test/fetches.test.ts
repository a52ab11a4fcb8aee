import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Platform } from './support/platform';

const run = promisify(execFile);

/**
 * A deployment from a git URL is a connection the platform makes for a tenant. It may not reach the platform's own
 * network (loopback, link-local, private ranges, the broker's own ports) unless the operator allows the address; it
 * is made only for the app's own users; every refusal reads the same, so that it tells nothing about what listens.
 */
describe('outbound fetches of git sources', { timeout: 600_000 }, () => {
  let p: Platform;
  let repo: string;
  // The allowed git host: a TCP relay to the broker's own git, counting the connections it is asked for.
  let relay: Server;
  let relayPort = 0;
  let relayed = 0;
  // An allowed host that answers every request with a redirect to the trap, which is not allowed.
  let redirector: HttpServer;
  let redirectorPort = 0;
  let trap: Server;
  let trapPort = 0;
  let trapped = 0;
  const apps = '/domains/fetch/apps';

  const listen = (server: Server | HttpServer) =>
    new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
  const allowedUrl = () => `http://dev:${p.token}@127.0.0.1:${relayPort}/git/fetch/origin.git`;

  before(async () => {
    relay = createServer((socket) => {
      relayed++;
      const upstream = connect(p.port, '127.0.0.1');
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    relayPort = await listen(relay);
    trap = createServer((socket) => {
      trapped++;
      socket.destroy();
    });
    trapPort = await listen(trap);
    redirector = createHttpServer((req, res) => {
      res.writeHead(302, { location: `http://127.0.0.1:${trapPort}${req.url}` });
      res.end();
    });
    redirectorPort = await listen(redirector);

    p = await Platform.start('fetches', { node1: {} }, { env: { GEARSHIFT_FETCH_ALLOW: `127.0.0.1:${relayPort}, 127.0.0.1:${redirectorPort}` } });
    assert.equal((await p.api('POST', '/domains', { name: 'fetch' })).status, 201);
    const origin = await p.api('POST', `${apps}?wait=180`, { name: 'origin', cartridges: ['static'] });
    assert.equal(origin.body.operation?.state, 'succeeded', JSON.stringify(origin.body));

    // The repository deployments fetch: pushed to the broker's git for the app "origin" (which deploys it there).
    repo = mkdtempSync(join(tmpdir(), 'gearshift-fetches-'));
    writeFileSync(join(repo, 'index.html'), '<h1>fetched</h1>\n');
    const git = (...args: string[]) => run('git', ['-C', repo, '-c', 'user.email=dev@example.com', '-c', 'user.name=dev', ...args]);
    await git('init', '--quiet', '--initial-branch=main');
    await git('add', '-A');
    await git('commit', '-qm', 'a page');
    await run('git', ['-C', repo, 'push', `http://dev:${p.token}@127.0.0.1:${p.port}/git/fetch/origin.git`, 'main'], {
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0' },
      timeout: 300_000,
    });
  });
  after(async () => {
    relay?.close();
    trap?.close();
    redirector?.close();
    if (repo) rmSync(repo, { recursive: true, force: true });
    await p?.stop();
  });

  it("refuses every host on the platform's own network with the same answer, before connecting", async () => {
    const refused = [
      'http://127.0.0.1:5000/v2/',
      'http://127.0.0.1:6379/x.git',
      'http://127.0.0.1:8080/x.git',
      `http://127.0.0.1:${p.port}/git/fetch/origin.git`,
      'http://169.254.169.254/latest/meta-data/',
      `http://[::1]:${relayPort}/git/fetch/origin.git`,
      'http://localhost:6379/x.git',
      'git://localhost/x.git',
      'http://[::ffff:127.0.0.1]:6379/x.git',
      'http://2130706433:6379/x.git',
      'http://0.0.0.0:6379/x.git',
      'https://10.0.0.1/x.git',
      'https://100.64.0.1/x.git',
      'http://[fd00::1]/x.git',
      `http://127.0.0.1:${trapPort}/x.git`,
    ];
    const answers: { url: string; status: number; body: unknown; ms: number }[] = [];
    for (const url of refused) {
      const started = Date.now();
      const res = await p.api('POST', `${apps}/origin/deployments`, { git: { url, ref: 'main' } });
      const { requestId, ...body } = res.body as { requestId?: string };
      assert.ok(requestId, 'each answer has its request id');
      answers.push({ url, status: res.status, body, ms: Date.now() - started });
    }
    const expected = {
      statusCode: 422,
      code: 'rule_violation',
      message: 'the source URL is not reachable from Gearshift: its host is not allowed',
      details: [{ pointer: '/git/url', rule: 'allowed-host', message: 'the source URL is not reachable from Gearshift: its host is not allowed' }],
    };
    for (const a of answers) {
      assert.equal(a.status, 422, `${a.url}: ${JSON.stringify(a.body)}`);
      assert.deepEqual(a.body, expected, a.url);
      assert.ok(a.ms < 2000, `${a.url} was answered in ${a.ms} ms, as if something was tried`);
    }
    assert.equal(relayed, 0, 'nothing connected to the allowed relay');
    assert.equal(trapped, 0, 'nothing connected to the trap');
    const deployments = await p.api('GET', `${apps}/origin/deployments`);
    assert.equal(deployments.body.length, 1, 'no deployment was made');
  });

  it("answers 404 for another user's app, and for an unknown one, without fetching anything", async () => {
    assert.equal((await p.api('POST', '/users', { username: 'mallory', password: 'long enough, too' })).status, 201);
    const mallory = (await p.api('POST', '/auth/login', { username: 'mallory', password: 'long enough, too' }, null)).body.token as string;
    const before = relayed;
    const theirs = await p.api('POST', `${apps}/origin/deployments`, { git: { url: allowedUrl(), ref: 'main' } }, mallory);
    assert.equal(theirs.status, 404, JSON.stringify(theirs.body));
    const unknown = await p.api('POST', `${apps}/nothere/deployments`, { git: { url: allowedUrl(), ref: 'main' } });
    assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
    // The same for a URL that would be refused: the app is looked up first.
    const probe = await p.api('POST', `${apps}/origin/deployments`, { git: { url: 'http://127.0.0.1:6379/x.git', ref: 'main' } }, mallory);
    assert.equal(probe.status, 404, JSON.stringify(probe.body));
    assert.equal(relayed, before, 'the allowed host was never connected to');
  });

  it('refuses URLs of other schemes as every refused URL (422, the same words), and what is no URL or a ref that looks like an option as bad input', async () => {
    for (const url of ['file:///etc/passwd', 'ext::sh -c touch% /tmp/x', 'ssh://-oProxyCommand=touch/x.git']) {
      const res = await p.api('POST', `${apps}/origin/deployments`, { git: { url, ref: 'main' } });
      assert.equal(res.status, 422, `${url}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.details[0].pointer, '/git/url');
      assert.equal(res.body.message, 'the source URL is not reachable from Gearshift: its host is not allowed');
    }
    const notUrl = await p.api('POST', `${apps}/origin/deployments`, { git: { url: '-u/x.git', ref: 'main' } });
    assert.equal(notUrl.status, 400, JSON.stringify(notUrl.body));
    assert.equal(notUrl.body.details[0].pointer, '/git/url');
    const ref = await p.api('POST', `${apps}/origin/deployments`, { git: { url: allowedUrl(), ref: '--upload-pack=touch' } });
    assert.equal(ref.status, 400, JSON.stringify(ref.body));
    assert.equal(ref.body.details[0].pointer, '/git/ref');
  });

  it('follows no redirect from an allowed host', async () => {
    const res = await p.api('POST', `${apps}/origin/deployments`, { git: { url: `http://127.0.0.1:${redirectorPort}/x.git`, ref: 'main' } });
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.details[0].pointer, '/git/url');
    assert.equal(trapped, 0, 'git did not follow the redirect to the trap');
  });

  it('deploys from a git URL the operator allows', async () => {
    const created = await p.api('POST', `${apps}?wait=180`, { name: 'mirror', cartridges: ['static'] });
    assert.equal(created.body.operation?.state, 'succeeded', JSON.stringify(created.body));
    const before = relayed;
    const res = await p.api('POST', `${apps}/mirror/deployments?wait=300`, { git: { url: allowedUrl(), ref: 'main' } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.operation.state, 'succeeded', res.body.operation.error);
    assert.equal(res.body.deployment.source.kind, 'git');
    assert.equal(res.body.deployment.source.url, `http://127.0.0.1:${relayPort}/git/fetch/origin.git`);
    const { stdout: head } = await run('git', ['-C', repo, 'rev-parse', 'HEAD']);
    assert.equal(res.body.deployment.source.commit, head.trim());
    assert.ok(relayed > before, 'the fetch went through the allowed host');
  });
});
