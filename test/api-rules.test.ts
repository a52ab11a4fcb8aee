import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, Platform } from './support/platform';

/** A request sent as written: no URL normalization (`..` stays), any Host header. */
function raw(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, type: String(res.headers['content-type'] ?? '') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Bad input gets a clear error naming the field and the rule, never a 500 and never a half-made app; placement
 * never overcommits a node, and a second node takes gears when the first is full.
 */
describe('API rules and placement', { timeout: 600_000 }, () => {
  let p: Platform;
  const apps = '/domains/rules/apps';

  before(async () => {
    // Room for exactly one small web gear and one small database gear.
    p = await Platform.start('rules', { node1: { memoryMb: 600 } });
    assert.equal((await p.api('POST', '/domains', { name: 'rules' })).status, 201);
  });
  after(async () => {
    await p?.stop();
  });

  async function expectError(method: string, path: string, body: unknown, status: number, pointer: string, rule?: string) {
    const res = await p.api(method, path, body);
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.equal(res.body.statusCode, status);
    assert.ok(res.body.code && res.body.message && res.body.requestId, JSON.stringify(res.body));
    const detail = res.body.details.find((d: { pointer: string }) => d.pointer === pointer);
    assert.ok(detail, `expected a detail for ${pointer} in ${JSON.stringify(res.body.details)}`);
    if (rule) assert.equal(detail.rule, rule);
    return res.body;
  }

  it('refuses bad domain and app names', async () => {
    await expectError('POST', '/domains', { name: 'Rules' }, 400, '/name', 'pattern');
    await expectError('POST', '/domains', { name: '9lives' }, 400, '/name', 'pattern');
    await expectError('POST', '/domains', { name: 'a'.repeat(33) }, 400, '/name', 'pattern');
    await expectError('POST', '/domains', {}, 400, '/name', 'required');
    await expectError('POST', apps, { name: 'my-app', cartridges: ['static'] }, 400, '/name', 'pattern');
    await expectError('POST', '/domains', { name: 'rules' }, 409, '/name', 'unique');
  });

  it('refuses unknown fields and wrong types', async () => {
    await expectError('POST', apps, { name: 'x', cartridges: ['static'], colour: 'red' }, 400, '/colour', 'additionalProperties');
    await expectError('POST', apps, { name: 'x', cartridges: 'static' }, 400, '/cartridges', 'type');
    await expectError('POST', apps, { name: 'x', cartridges: ['static'], size: 'huge' }, 400, '/size', 'enum');
    await expectError('POST', apps, { name: 'x', cartridges: ['static'], scale: 0 }, 400, '/scale', 'minimum');
  });

  it('refuses unknown cartridges, two web cartridges, and a scale for an app whose web cartridge comes with its code', async () => {
    const unknown = await expectError('POST', apps, { name: 'x', cartridges: ['static', 'cobol-85'] }, 400, '/cartridges/1', 'known-cartridge');
    assert.match(unknown.message, /cobol-85/);
    const two = await expectError('POST', apps, { name: 'x', cartridges: ['static', 'nodejs-18'] }, 422, '/cartridges', 'one-web-cartridge');
    assert.match(two.message, /static and nodejs-18/);
    await expectError('POST', apps, { name: 'x', cartridges: ['postgresql-15'], scale: 2 }, 422, '/scale', 'web-cartridge');
  });

  it('refuses a scale above the cartridge maximum', async () => {
    const body = await expectError('POST', apps, { name: 'x', cartridges: ['static'], scale: 11 }, 422, '/scale', 'scaling');
    assert.match(body.message, /from 1 to 10/);
  });

  it('refuses environment variable names that are not shell-safe', async () => {
    await expectError('POST', apps, { name: 'x', cartridges: ['static'], env: { 'BAD-NAME': '1' } }, 400, '/env/BAD-NAME', 'propertyNames');
    await expectError('POST', apps, { name: 'x', cartridges: ['static'], env: { '1ABC': '1' } }, 400, '/env/1ABC', 'propertyNames');
    await expectError('POST', apps, { name: 'x', cartridges: ['static'], env: { 'A B': '1' } }, 400, '/env/A B', 'propertyNames');
    await expectError('POST', apps, { name: 'x', cartridges: ['static'], env: { OK: 5 } }, 400, '/env/OK', 'type');
  });

  it('refuses oversized bodies with 413 and broken JSON with 400', async () => {
    const big = await p.api('POST', apps, undefined, p.token, JSON.stringify({ name: 'x', cartridges: ['static'], env: { BIG: 'x'.repeat(300 * 1024) } }));
    assert.equal(big.status, 413);
    assert.equal(big.body.code, 'too_large');
    const broken = await p.api('POST', apps, undefined, p.token, '{"name": "x",');
    assert.equal(broken.status, 400);
    assert.match(broken.body.message, /not valid JSON/);
    const scalar = await p.api('POST', apps, undefined, p.token, 'null');
    assert.equal(scalar.status, 400);
    assert.equal(scalar.body.message, 'the body must be a JSON object, not null');
  });

  it('answers unknown paths, apps and operations with 404, and a bad wait with 400', async () => {
    assert.equal((await p.api('GET', '/nowhere')).status, 404);
    assert.equal((await p.api('GET', `${apps}/ghost`)).status, 404);
    assert.equal((await p.api('GET', '/domains/ghost/apps')).status, 404);
    assert.equal((await p.api('GET', '/operations/not-an-id')).status, 404);
    assert.equal((await p.api('GET', '/operations/00000000-0000-4000-8000-000000000000')).status, 404);
    await expectError('POST', `${apps}?wait=forever`, { name: 'x', cartridges: ['static'] }, 400, '?wait', 'range');
  });

  it("refuses a git path with . or .. segments, escaped or not, with 400 and the API's error body, and logs it", async () => {
    const basic = { authorization: `Basic ${Buffer.from(`admin:${p.token}`).toString('base64')}` };
    const other = '00000000-0000-4000-8000-000000000000';
    for (const path of [
      `/git/rules/web.git/../${other}.git/info/refs?service=git-upload-pack`,
      `/git/rules/web.git/%2e%2e/${other}.git/info/refs?service=git-upload-pack`,
      `/git/rules/web.git/./info/refs?service=git-upload-pack`,
      `/git/rules/web.git/..%5c${other}.git/info/refs?service=git-upload-pack`,
    ]) {
      const res = await raw(p.port, path, basic);
      assert.equal(res.status, 400, `${path}: ${res.status} ${res.text}`);
      assert.match(res.type, /json/, path);
      const body = JSON.parse(res.text);
      assert.equal(body.code, 'invalid_input', path);
      assert.equal(body.details[0].rule, 'git-path', path);
    }
    await eventually('the refusal in the broker log', async () => /refused a git request for rules\/web/.test(p.logs()), 5000);
    assert.doesNotMatch(p.logs(), new RegExp(other), 'the path itself is not logged');
  });

  it('answers /metrics on loopback only for a Host header a scraper sends, not a rebound name', async () => {
    assert.equal((await raw(p.port, '/metrics', { host: `127.0.0.1:${p.port}` })).status, 200);
    assert.equal((await raw(p.port, '/metrics', { host: `localhost:${p.port}` })).status, 200);
    const rebound = await raw(p.port, '/metrics', { host: 'attacker.example' });
    assert.equal(rebound.status, 403, rebound.text);
    assert.equal(JSON.parse(rebound.text).code, 'forbidden');
    assert.doesNotMatch(rebound.text, /gearshift_/);
  });

  it('made nothing out of all that bad input', async () => {
    assert.deepEqual((await p.api('GET', apps)).body, []);
    assert.equal((await p.containers()).length, 0);
  });

  it('fills the first node, refuses what fits nowhere with 422 naming the shortfall, then uses a second node', async () => {
    const first = await p.api('POST', `${apps}?wait=300`, { name: 'first', cartridges: ['nodejs-18', 'postgresql-15'] });
    assert.equal(first.body.operation?.state, 'succeeded', JSON.stringify(first.body));
    assert.ok(first.body.gears.every((g: { node: string }) => g.node === p.nodeName('node1')));

    const full = await p.api('POST', apps, { name: 'second', cartridges: ['static'] });
    // The node as it is can never take it: a 4xx to change the request or the nodes, not a 503 to try again.
    assert.equal(full.status, 422);
    assert.equal(full.body.code, 'capacity_exceeded');
    assert.equal(full.body.details[0].rule, 'node-capacity');
    assert.match(full.body.message, new RegExp(`${p.nodeName('node1')} has 88 MB free`));
    assert.equal((await p.api('GET', `${apps}/second`)).status, 404, 'nothing half-made');

    const token = await p.api('POST', '/nodes/tokens', { ttlHours: 1 });
    assert.equal(token.status, 201);
    assert.match(token.body.token, /^gsj_/);
    await p.startAgent('node2', { joinToken: token.body.token, memoryMb: 1024 });
    const nodes = await p.api('GET', '/nodes');
    assert.deepEqual(nodes.body.map((n: { name: string }) => n.name).sort(), [p.nodeName('node1'), p.nodeName('node2')].sort());

    const second = await p.api('POST', `${apps}?wait=120`, { name: 'second', cartridges: ['static'] });
    assert.equal(second.body.operation?.state, 'succeeded', JSON.stringify(second.body));
    assert.equal(second.body.gears[0].node, p.nodeName('node2'));
    const page = await fetch(second.body.gears[0].endpoints.http);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /static site runs on Gearshift/);
    // Each agent touches only its own gears.
    const node2Id = nodes.body.find((n: { name: string }) => n.name === p.nodeName('node2')).id;
    const onNode2 = await p.containers({ 'gearshift.node': node2Id });
    assert.deepEqual(
      onNode2.map((c) => c.Labels['gearshift.app-name']),
      ['second'],
    );

    const tooBig = await p.api('POST', apps, { name: 'third', cartridges: ['static'], size: 'large' });
    assert.equal(tooBig.status, 422);
    assert.match(tooBig.body.message, /needing 2048 MB/);
  });

  it('refuses a join token that does not exist', async () => {
    const res = await p.api('POST', '/nodes/register', { token: 'gsj_forged', name: 'intruder', memoryMb: 1024, maxGears: 10 }, null);
    assert.equal(res.status, 401);
  });

  it("removes a deleted app's git repository from the data directory", async () => {
    const made = await p.api('POST', `${apps}?wait=60`, { name: 'gitgone', cartridges: [] });
    assert.equal(made.status, 202, JSON.stringify(made.body));
    const basic = { authorization: `Basic ${Buffer.from(`admin:${p.token}`).toString('base64')}` };
    const refs = await raw(p.port, '/git/rules/gitgone.git/info/refs?service=git-upload-pack', basic);
    assert.equal(refs.status, 200, refs.text);
    const repos = readdirSync(join(p.dataDir, 'git'));
    assert.equal(repos.length, 1, `the first fetch made the repository: ${repos.join(', ')} (answer ${refs.text.slice(0, 200)}, app ${made.body.id})`);
    const repo = join(p.dataDir, 'git', repos[0]);
    assert.ok(existsSync(join(repo, 'HEAD')));
    // Query parameters out of range are bad input, one status and one pointer spelling on every endpoint.
    await expectError('GET', `${apps}/gitgone/logs?tail=-1`, undefined, 400, '?tail', 'range');
    await expectError('GET', `${apps}/gitgone/metrics?minutes=0`, undefined, 400, '?minutes', 'range');
    // A value out of range is that, not also a field the other form of the body does not know.
    const huge = await expectError('PUT', `${apps}/gitgone/scale`, { replicas: 100000 }, 400, '/replicas', 'maximum');
    assert.doesNotMatch(JSON.stringify(huge), /not a known field/);
    // exec picks a web gear, never the database's; with none it says so.
    const exec = await p.api('POST', `${apps}/gitgone/exec`, { command: ['true'] });
    assert.equal(exec.status, 409, JSON.stringify(exec.body));
    assert.match(exec.body.message, /has no web gear yet/);
    // An operation names who asked for it.
    const ops = await p.api('GET', `${apps}/gitgone/operations`);
    assert.deepEqual(
      ops.body.map((o: { kind: string; by: string }) => [o.kind, o.by]),
      [['app.create', 'admin']],
    );
    const gone = await p.api('DELETE', `${apps}/gitgone?wait=60`);
    assert.equal(gone.body.operation?.state, 'succeeded', JSON.stringify(gone.body));
    // An app that never had a gear goes at once too.
    assert.equal((await p.api('GET', `${apps}/gitgone`)).status, 404);
    await eventually('the repository gone', async () => !existsSync(repo), 10_000);
  });
});
