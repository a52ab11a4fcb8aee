import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, gitPush, Platform, requestLoop } from './support/platform';

/**
 * Restart and reload of an app of named services only (no web cartridge): a web service `front` at the app's host
 * name and a worker service `jobs`, pushed with git. A restart replaces every service's gears as a change of the
 * environment does, the web one surging so that the app answers throughout; a reload replaces them too; a stopped app
 * restarts into a running one.
 */

const APP = '/domains/svr/apps/rst';
const HOST = 'rst-svr.localhost';

const DESCRIPTOR = `name: rst
cartridges: []
services:
  front:
    kind: web
    build: ./web
    port: 3000
  jobs:
    kind: worker
    build: ./jobs
`;

// Each answer names the container that gave it (its host name), so that a new gear is told from the old.
const SERVER = `require('node:http').createServer((req, res) => res.end('front ' + require('node:os').hostname())).listen(Number(process.env.PORT));\n`;
const WORKER = `setInterval(() => {}, 1000);\nconsole.log('jobs started');\n`;

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, '-c', 'user.email=dev@example.com', '-c', 'user.name=dev', ...args], { encoding: 'utf8' });
}

interface GearView {
  id: string;
  service?: string;
  state: string;
}
interface OperationView {
  state: string;
  error: string | null;
  steps: { text: string }[];
}

describe('restarting an app of named services only', { timeout: 600_000 }, () => {
  let p: Platform;
  const repo = mkdtempSync(join(tmpdir(), 'gearshift-svcrestart-'));

  const gears = async () => ((await p.api('GET', APP)).body as { gears: GearView[] }).gears;
  /** The ids of the running gears of each service, by service. */
  const running = async () => {
    const all = await gears();
    return Object.fromEntries(['front', 'jobs'].map((s) => [s, all.filter((g) => g.service === s && g.state === 'running').map((g) => g.id)]));
  };
  /** The app answers at its host name, from one of front's gears. */
  const serving = () =>
    eventually(
      `${HOST} to answer from front`,
      async () => {
        const res = await p.viaRouter(HOST).catch(() => null);
        return res?.status === 200 && /^front \S+$/.test(res.body.trim()) && res;
      },
      60_000,
      250,
    );
  const act = async (action: string) => {
    const res = await p.api('POST', `${APP}/actions?wait=240`, { action });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.operation as OperationView;
  };
  /** Every gear of both services is new (none of `before` is left), and one of each runs. */
  const replaced = async (before: Record<string, string[]>) => {
    const now = await running();
    for (const s of ['front', 'jobs']) {
      assert.equal(now[s].length, 1, `${s}: ${JSON.stringify(await gears())}`);
      assert.ok(!before[s].includes(now[s][0]), `${s} kept its gear ${now[s][0]}`);
    }
    assert.deepEqual(
      (await gears()).map((g) => g.id).filter((id) => [...before.front, ...before.jobs].includes(id)),
      [],
      'the old gears are gone',
    );
    return now;
  };

  before(async () => {
    p = await Platform.start('services-restart', { node1: {} }, { router: true });
    assert.equal((await p.api('POST', '/domains', { name: 'svr' })).status, 201);
    const created = await p.api('POST', '/domains/svr/apps?wait=60', { name: 'rst', cartridges: [] });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const files = {
      'gearshift.yml': DESCRIPTOR,
      'web/package.json': JSON.stringify({ name: 'web', version: '1.0.0', scripts: { start: 'node server.js' } }),
      'web/server.js': SERVER,
      'jobs/package.json': JSON.stringify({ name: 'jobs', version: '1.0.0', scripts: { start: 'node worker.js' } }),
      'jobs/worker.js': WORKER,
    };
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(repo, name, '..'), { recursive: true });
      writeFileSync(join(repo, name), text);
    }
    git(repo, 'init', '-q', '-b', 'main');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'initial commit');
    const pushed = await gitPush(repo, `http://dev:${p.token}@127.0.0.1:${p.port}/git/svr/rst.git`);
    assert.ok(pushed.ok, pushed.output);
    await serving();
  });
  after(async () => {
    await p?.stop();
    rmSync(repo, { recursive: true, force: true });
  });

  it('restarts every service, the web one surging so that the app answers throughout', async () => {
    const before = await running();
    assert.equal(before.front.length, 1, JSON.stringify(await gears()));
    assert.equal(before.jobs.length, 1, JSON.stringify(await gears()));
    const answered = (await serving()).body;
    const loop = requestLoop(p, HOST, (body) => body);
    const op = await act('restart');
    const ok = await loop.stop();
    assert.equal(op.state, 'succeeded', JSON.stringify(op));
    assert.deepEqual(loop.failures.slice(0, 5), [], `${loop.failures.length} of ${ok + loop.failures.length} requests failed`);
    assert.ok(ok > 10, `only ${ok} requests went through`);
    await replaced(before);
    // The new front gear answers: the router followed it.
    assert.notEqual((await serving()).body, answered);
  });

  it('reloads the services the same way', async () => {
    const before = await running();
    const op = await act('reload');
    assert.equal(op.state, 'succeeded', JSON.stringify(op));
    await replaced(before);
  });

  it('restarts a stopped app of services into a running one', async () => {
    assert.equal((await act('stop')).state, 'succeeded');
    assert.deepEqual(await running(), { front: [], jobs: [] });
    const op = await act('restart');
    assert.equal(op.state, 'succeeded', JSON.stringify(op));
    const now = await running();
    assert.equal(now.front.length, 1, JSON.stringify(await gears()));
    assert.equal(now.jobs.length, 1, JSON.stringify(await gears()));
    await serving();
  });
});
