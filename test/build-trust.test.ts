import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, execIn, Platform } from './support/platform';

/**
 * A recipe build trusts the node's CAs whatever the agent's umask: `npm run up` runs the platform under umask 027, which
 * leaves the CA file in the build context readable by its owner's group only, and the build user is neither. npm then
 * exits before it prints anything. The build's output reaches the developer without terminal colour codes.
 */
describe('builds that trust the node CAs', () => {
  let p: Platform;
  let umask: number;
  const apps = '/domains/dev/apps';

  before(async () => {
    // As scripts/up.sh starts the supervisor: the broker, agent and router inherit it.
    umask = process.umask(0o027);
    p = await Platform.start('build-trust', { node1: {} });
    assert.equal((await p.api('POST', '/domains', { name: 'dev' })).status, 201);
    const res = await p.api('POST', `${apps}?wait=120`, { name: 'shop', cartridges: ['nodejs-24'] });
    assert.equal(res.body.operation?.state, 'succeeded', JSON.stringify(res.body));
  });
  after(async () => {
    await p?.stop();
    process.umask(umask);
  });

  it('installs npm dependencies under umask 027, and the gear user reads the CA file in the image', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gearshift-trust-'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'shop', version: '1.0.0', main: 'server.js', dependencies: { 'left-pad': '1.3.0' } }));
    writeFileSync(
      join(dir, 'server.js'),
      "require('http').createServer((req, res) => res.end(require('left-pad')('x', 3))).listen(process.env.PORT || 8080);\n",
    );
    const archive = execFileSync('tar', ['-cz', '-C', dir, '.']);
    rmSync(dir, { recursive: true, force: true });
    const res = await fetch(`${p.baseUrl}/api/v1${apps}/shop/deployments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/gzip' },
      body: archive,
    });
    assert.equal(res.status, 202, await res.clone().text());
    const op = ((await res.json()) as { operation: { id: string } }).operation.id;
    const log = await (await fetch(`${p.baseUrl}/api/v1/operations/${op}/log?follow=true`, { headers: { authorization: `Bearer ${p.token}` } })).text();
    assert.match(log, /-----> release 1 is active/, log);
    assert.doesNotMatch(log, /Ignoring extra certs|Permission denied/, log);
    assert.doesNotMatch(log, /\x1b/, 'no terminal escape codes in the build output');
    const web = await eventually(
      'the release 1 gear',
      async () => (await p.containers({ 'gearshift.app-name': 'shop', 'gearshift.cartridge': 'nodejs-24' })).find((c) => c.State === 'running'),
      20_000,
      200,
    );
    const seen = await execIn(web.Id, ['sh', '-c', 'id -un; stat -c %a /tmp/gearshift-ca.crt; head -c 27 /tmp/gearshift-ca.crt']);
    assert.deepEqual(seen.split('\n'), ['gear', '644', '-----BEGIN CERTIFICATE-----'], seen);
  });
});
