import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { Platform, runCli, type ApiResponse } from './support/platform';

/**
 * Accounts and tokens as their users meet them: administrators create, disable and delete users; users change their
 * password; personal access tokens are listed, scoped, revoked and expire; logins are rate-limited per user name at
 * a client address, per user name and per client address, and an unknown user name is refused as slowly as a known one.
 */
describe('accounts and tokens', { timeout: 600_000 }, () => {
  let p: Platform;
  const scratch: string[] = [];

  before(async () => {
    // No node: nothing here places a gear.
    p = await Platform.start('accounts', {});
  });
  after(async () => {
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
    await p?.stop();
  });

  const tempDir = (name: string) => {
    const dir = mkdtempSync(join(tmpdir(), `gearshift-${name}-`));
    scratch.push(dir);
    return dir;
  };

  /** A login from a chosen loopback address (127.0.0.0/8 is all loopback): each test fills its own address's window. */
  function loginFrom(address: string, username: string, password: string): Promise<ApiResponse & { headers: IncomingHttpHeaders }> {
    return new Promise((resolve, reject) => {
      const body = JSON.stringify({ username, password });
      const req = request(
        {
          host: '127.0.0.1',
          port: p.port,
          localAddress: address,
          method: 'POST',
          path: '/api/v1/auth/login',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : null }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  async function createUser(username: string, password: string, admin = false): Promise<string> {
    const created = await p.api('POST', '/users', { username, password, ...(admin ? { admin } : {}) });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const login = await p.api('POST', '/auth/login', { username, password }, null);
    assert.equal(login.status, 200, JSON.stringify(login.body));
    return login.body.token as string;
  }

  async function sql(text: string, values: unknown[]): Promise<void> {
    const pg = new Client({ connectionString: p.databaseUrl });
    await pg.connect();
    try {
      await pg.query(text, values);
    } finally {
      await pg.end();
    }
  }

  it('lets an administrator create, disable and delete a user; a disabled user can neither log in nor use a token', async () => {
    const short = await p.api('POST', '/users', { username: 'dora', password: 'short pass' });
    assert.equal(short.status, 400);
    assert.equal(short.body.details[0].pointer, '/password');
    assert.match(short.body.message, /at least 12 characters/);

    const dora = await createUser('dora', 'dora password 1');
    assert.equal((await p.api('GET', '/domains', undefined, dora)).status, 200);
    // Only administrators manage users.
    assert.equal((await p.api('POST', '/users', { username: 'eve', password: 'eve password 12' }, dora)).status, 403);
    assert.equal((await p.api('PATCH', '/users/admin', { disabled: true }, dora)).status, 403);

    const disabled = await p.api('PATCH', '/users/dora', { disabled: true });
    assert.equal(disabled.status, 200, JSON.stringify(disabled.body));
    assert.equal(disabled.body.disabled, true);
    assert.equal((await p.api('GET', '/domains', undefined, dora)).status, 401);
    const refused = await p.api('POST', '/auth/login', { username: 'dora', password: 'dora password 1' }, null);
    assert.equal(refused.status, 401);
    assert.equal(refused.body.message, 'wrong username or password', 'a disabled account is refused as a wrong password is');

    assert.equal((await p.api('PATCH', '/users/dora', { disabled: false, password: 'dora password 2' })).status, 200);
    const again = await p.api('POST', '/auth/login', { username: 'dora', password: 'dora password 2' }, null);
    assert.equal(again.status, 200, 'enabled again, with the password an administrator reset');
    const doraAgain = again.body.token as string;

    // A user who owns a domain stays until the domain goes.
    assert.equal((await p.api('POST', '/domains', { name: 'dorasdomain' }, doraAgain)).status, 201);
    const owns = await p.api('DELETE', '/users/dora');
    assert.equal(owns.status, 409);
    assert.match(owns.body.message, /owns domains \(dorasdomain\)/);
    assert.equal((await p.api('DELETE', '/domains/dorasdomain', undefined, doraAgain)).status < 300, true);

    assert.equal((await p.api('DELETE', '/users/dora')).status, 204);
    assert.equal((await p.api('GET', '/domains', undefined, doraAgain)).status, 401, "a deleted user's tokens die with them");
    assert.equal((await p.api('DELETE', '/users/dora')).status, 404);

    const last = await p.api('DELETE', '/users/admin');
    assert.equal(last.status, 409);
    assert.match(last.body.message, /last administrator/);
    assert.equal((await p.api('PATCH', '/users/admin', { disabled: true })).status, 409);
  });

  it("changes a user's own password: the old one no longer logs in, other tokens are revoked, the caller's is kept", async () => {
    const first = await createUser('frank', 'frank password 1');
    const other = (await p.api('POST', '/auth/login', { username: 'frank', password: 'frank password 1' }, null)).body.token as string;

    const wrong = await p.api('PUT', '/users/me/password', { current: 'not my password', password: 'frank password 2' }, first);
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.details[0].pointer, '/current');
    const short = await p.api('PUT', '/users/me/password', { current: 'frank password 1', password: 'tiny' }, first);
    assert.equal(short.status, 400);
    assert.match(short.body.message, /at least 12 characters/);

    assert.equal((await p.api('PUT', '/users/me/password', { current: 'frank password 1', password: 'frank password 2' }, first)).status, 204);
    assert.equal((await p.api('POST', '/auth/login', { username: 'frank', password: 'frank password 1' }, null)).status, 401);
    assert.equal((await p.api('POST', '/auth/login', { username: 'frank', password: 'frank password 2' }, null)).status, 200);
    assert.equal((await p.api('GET', '/domains', undefined, first)).status, 200, "the caller's token is kept");
    assert.equal((await p.api('GET', '/domains', undefined, other)).status, 401, 'the other login is revoked');
  });

  it('lists, revokes and expires personal access tokens, and logs out', async () => {
    const george = await createUser('george', 'george password');
    const made = await p.api('POST', '/tokens', { name: 'ci', scopes: ['deploy'], expiresInDays: 7 }, george);
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.match(made.body.token, /^gsp_/);
    assert.equal((await p.api('GET', '/domains', undefined, made.body.token)).status, 200);

    const list = await p.api('GET', '/tokens', undefined, george);
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.map((t: { name: string; scopes: string[] }) => [t.name, t.scopes]),
      [['ci', ['deploy']]],
    );
    const [listed] = list.body;
    assert.deepEqual(Object.keys(listed).sort(), ['createdAt', 'expiresAt', 'id', 'lastUsedAt', 'name', 'scopes']);
    assert.ok(listed.lastUsedAt, 'the token was used');
    assert.ok(Math.abs(new Date(listed.expiresAt).getTime() - Date.now() - 7 * 86_400_000) < 60_000);
    assert.ok(!JSON.stringify(list.body).includes(made.body.token), 'the token itself is never listed');
    // Someone else's token is not theirs to see or revoke.
    assert.deepEqual((await p.api('GET', '/tokens')).body, []);
    assert.equal((await p.api('DELETE', `/tokens/${made.body.id}`)).status, 404);
    assert.equal((await p.api('DELETE', '/tokens/not-a-token-id', undefined, george)).status, 404);

    assert.equal((await p.api('DELETE', `/tokens/${made.body.id}`, undefined, george)).status, 204);
    const revoked = await p.api('GET', '/domains', undefined, made.body.token);
    assert.equal(revoked.status, 401);

    const expiring = await p.api('POST', '/tokens', { name: 'short-lived', scopes: ['read'], expiresInDays: 1 }, george);
    assert.equal((await p.api('GET', '/domains', undefined, expiring.body.token)).status, 200);
    await sql(`update api_tokens set expires_at = now() - interval '1 minute' where id = $1`, [expiring.body.id]);
    assert.equal((await p.api('GET', '/domains', undefined, expiring.body.token)).status, 401, 'an expired token is refused');

    const bad = await p.api('POST', '/tokens', { name: 'x', scopes: ['root'] }, george);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.details[0].pointer, '/scopes/0');

    assert.equal((await p.api('POST', '/auth/logout', undefined, george)).status, 204);
    assert.equal((await p.api('GET', '/domains', undefined, george)).status, 401, 'a logged-out token is refused');
  });

  it('holds each token to its scopes: read only reads; deploy reads, deploys and pushes, but manages nothing', async () => {
    assert.equal((await p.api('POST', '/domains', { name: 'scoped' })).status, 201);
    const app = await p.api('POST', '/domains/scoped/apps', { name: 'site', cartridges: [] });
    assert.equal(app.status < 300, true, JSON.stringify(app.body));
    const make = async (name: string, scopes: string[]) => (await p.api('POST', '/tokens', { name, scopes })).body.token as string;
    const read = await make('reader', ['read']);
    const deploy = await make('deployer', ['deploy']);

    assert.equal((await p.api('GET', '/domains/scoped/apps/site', undefined, read)).status, 200);
    const post = await p.api('POST', '/domains', { name: 'byreader' }, read);
    assert.equal(post.status, 403);
    assert.equal(post.body.code, 'insufficient_scope');
    assert.match(post.body.message, /"admin"/);
    const readDeploy = await p.api('POST', '/domains/scoped/apps/site/deployments', {}, read);
    assert.equal(readDeploy.status, 403);
    assert.equal(readDeploy.body.code, 'insufficient_scope');
    assert.match(readDeploy.body.message, /"deploy"/);

    // Past the scope check: the deployment itself is refused for its (empty) source, not for the token.
    const deployed = await p.api('POST', '/domains/scoped/apps/site/deployments', {}, deploy);
    assert.equal(deployed.status, 400, JSON.stringify(deployed.body));
    assert.equal((await p.api('GET', '/domains/scoped/apps/site', undefined, deploy)).status, 200);
    for (const [method, path, body] of [
      ['POST', '/users', { username: 'mallory', password: 'mallory password' }],
      ['PATCH', '/users/admin', { password: 'taken over by ci' }],
      ['DELETE', '/domains/scoped', undefined],
      ['POST', '/tokens', { name: 'wider', scopes: ['admin'] }],
    ] as const) {
      const res = await p.api(method, path, body, deploy);
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal(res.body.code, 'insufficient_scope', `${method} ${path}`);
    }

    // git: the token is the password. A push to a branch other than main is stored and deploys nothing.
    const repo = tempDir('scoped-repo');
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', repo, '-c', 'user.email=dev@example.com', '-c', 'user.name=dev', ...args], { encoding: 'utf8' });
    git('init', '-q', '-b', 'topic');
    writeFileSync(join(repo, 'README'), 'scoped\n');
    git('add', '-A');
    git('commit', '-qm', 'first');
    const push = (token: string) =>
      spawnSync('git', ['-C', repo, 'push', `http://ci:${token}@127.0.0.1:${p.port}/git/scoped/site.git`, 'topic'], {
        encoding: 'utf8',
        env: { ...process.env, GIT_TERMINAL_PROMPT: '0' },
      });
    const refused = push(read);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /403|lacks the scope/);
    const pushed = push(deploy);
    assert.equal(pushed.status, 0, pushed.stderr);
    assert.match(pushed.stderr, /only main and master deploy/);
  });

  it('answers the 11th failed login for a name from an address in a minute, the 101st from any, and the 31st from an address, with 429 and Retry-After', async () => {
    await createUser('henry', 'henry password');
    for (let i = 0; i < 10; i++) assert.equal((await loginFrom('127.0.1.1', 'henry', 'wrong password')).status, 401, `attempt ${i + 1}`);
    const limited = await loginFrom('127.0.1.1', 'henry', 'henry password');
    assert.equal(limited.status, 429, JSON.stringify(limited.body));
    assert.equal(limited.body.code, 'too_many_requests');
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After: ${limited.headers['retry-after']}`);
    // A stranger's wrong passwords do not lock the user out of logging in from their own address.
    assert.equal((await loginFrom('127.0.1.100', 'henry', 'henry password')).status, 200, 'henry logs in from elsewhere');
    assert.equal((await loginFrom('127.0.1.101', 'admin', p.adminPassword)).status, 200, 'other users log in');
    // A guess spread over many addresses is still held back, past a far higher ceiling for the name.
    for (let i = 10; i < 100; i++) assert.equal((await loginFrom(`127.0.5.${i}`, 'henry', 'wrong password')).status, 401, `attempt ${i + 1}`);
    assert.equal((await loginFrom('127.0.1.102', 'henry', 'henry password')).status, 429);

    for (let i = 0; i < 10; i++) assert.equal((await loginFrom('127.0.2.1', 'bob', 'wrong password')).status, 401);
    // Ten wrong passwords for one user do not lock the other users behind the same address out.
    assert.equal((await loginFrom('127.0.2.1', 'bob', 'wrong password')).status, 429);
    assert.equal((await loginFrom('127.0.2.1', 'admin', p.adminPassword)).status, 200, 'admin logs in from the same address');
    for (let i = 10; i < 30; i++) {
      // One address, many names: the address's looser window fills.
      assert.equal((await loginFrom('127.0.2.1', `nobody${i}`, 'wrong password')).status, 401, `name ${i}`);
    }
    const fromAddress = await loginFrom('127.0.2.1', 'admin', p.adminPassword);
    assert.equal(fromAddress.status, 429);
    assert.ok(Number(fromAddress.headers['retry-after']) >= 1);
    assert.equal((await loginFrom('127.0.2.2', 'admin', p.adminPassword)).status, 200, 'other addresses log in');

    // Sent all at once, the attempts are still counted: ten are checked, the rest wait.
    const burst = await Promise.all(Array.from({ length: 15 }, () => loginFrom('127.0.4.1', 'burst', 'wrong password')));
    assert.deepEqual(burst.map((r) => r.status).sort(), [...Array(10).fill(401), ...Array(5).fill(429)]);
  });

  it('refuses an unknown user name as slowly as a known one', async () => {
    await createUser('irene', 'irene password');
    const median = async (address: string, username: string) => {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const start = process.hrtime.bigint();
        assert.equal((await loginFrom(address, username, 'wrong password')).status, 401);
        times.push(Number(process.hrtime.bigint() - start) / 1e6);
      }
      return times.sort((a, b) => a - b)[2];
    };
    const known = await median('127.0.3.1', 'irene');
    const unknown = await median('127.0.3.2', 'nobody-at-all');
    // Generous: the same order of magnitude (before, 32 ms against 3 ms).
    assert.ok(unknown > known / 3 && unknown < known * 3, `known ${known.toFixed(1)} ms, unknown ${unknown.toFixed(1)} ms`);
  });

  it('drives accounts from the CLI: tokens list, create, revoke; passwd; logout', async () => {
    await createUser('judy', 'judy password 1');
    const home = tempDir('accounts-cli');
    const cli = (args: string[], input?: string) => runCli(p, home, args, input);

    const login = await cli(['login', '-u', 'judy', '--password-stdin'], 'judy password 1\n');
    assert.equal(login.code, 0, login.stderr);

    const created = await cli(['tokens', 'create', 'ci', '--scope', 'deploy', '--days', '10']);
    assert.equal(created.code, 0, created.stderr);
    const token = created.stdout.split('\n')[0];
    assert.match(token, /^gsp_/);
    assert.match(created.stdout, /not shown again/);
    assert.equal((await p.api('GET', '/domains', undefined, token)).status, 200);

    const listed = await cli(['tokens']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /ID\s+NAME\s+SCOPES\s+EXPIRES\s+LAST USED/);
    assert.match(listed.stdout, /\sci\s+deploy\s/);
    assert.ok(!listed.stdout.includes(token));
    const json = await cli(['--json', 'tokens']);
    const [info] = JSON.parse(json.stdout) as { id: string; name: string }[];
    assert.equal(info.name, 'ci');

    const badScope = await cli(['tokens', 'create', 'x', '--scope', 'root']);
    assert.equal(badScope.code, 2);

    const revoked = await cli(['tokens', 'revoke', info.id]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal((await p.api('GET', '/domains', undefined, token)).status, 401);

    const wrong = await cli(['passwd', '--password-stdin'], 'not it\njudy password 2\n');
    assert.equal(wrong.code, 3);
    assert.match(wrong.stderr, /current password is wrong/);
    const passwd = await cli(['passwd', '--password-stdin'], 'judy password 1\njudy password 2\n');
    assert.equal(passwd.code, 0, passwd.stderr);
    assert.equal((await p.api('POST', '/auth/login', { username: 'judy', password: 'judy password 1' }, null)).status, 401);
    assert.equal((await cli(['tokens'])).code, 0, "the CLI's own login is kept");

    const logout = await cli(['logout']);
    assert.equal(logout.code, 0, logout.stderr);
    const after = await cli(['tokens']);
    assert.notEqual(after.code, 0);
    assert.match(after.stderr, /gearshift login/);
  });
});
