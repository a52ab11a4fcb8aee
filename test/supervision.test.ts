import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { eventually, Platform, sleep } from './support/platform';

/**
 * kill -9 of the broker, of the agent and of the router while operations and traffic run, with the three under the
 * supervisor as `npm run up` runs them: each comes back by itself, every operation ends (succeeded or failed), no
 * gear has two containers, and requests through the router fail for at most the restart window, which is measured
 * and printed (not asserted: speed belongs to the bench).
 */
describe('supervision', { timeout: 600_000 }, () => {
  let p: Platform;
  const apps = '/domains/sup/apps';
  const host = 'web-sup.localhost';
  const operations: string[] = [];
  /** Every request through the router: when, and whether it answered 200. */
  const traffic: { at: number; ok: boolean }[] = [];
  let sending = true;
  let sender: Promise<void> = Promise.resolve();

  const logOf = (part: string) => {
    try {
      return readFileSync(join(p.dataDir, 'logs', `${part}.log`), 'utf8');
    } catch {
      return '';
    }
  };
  const tails = () => ['broker', 'agent', 'router'].map((part) => `--- ${part}.log\n${logOf(part).split('\n').slice(-40).join('\n')}`).join('\n');

  before(async () => {
    p = await Platform.start('supervision', {});
    await p.startSupervised('node1');
    assert.equal((await p.api('POST', '/domains', { name: 'sup' })).status, 201);
    for (const name of ['web', 'other']) {
      const res = await p.api('POST', `${apps}?wait=120`, { name, cartridges: ['static'] });
      assert.equal(res.body.operation.state, 'succeeded', `${res.body.operation.error}\n${tails()}`);
    }
    await eventually('the router to serve the app', async () => (await p.viaRouter(host).catch(() => null))?.status === 200, 30_000);
    // New connections each time, as visitors' would be; a keep-alive connection would hide a restart.
    const fresh = new Agent({ keepAlive: false });
    sender = (async () => {
      while (sending) {
        const ok = await p.viaRouter(host, '/', fresh).then(
          (r) => r.status === 200,
          () => false,
        );
        traffic.push({ at: Date.now(), ok });
        await sleep(20);
      }
    })();
  });
  after(async () => {
    sending = false;
    await sender;
    await p?.stop();
  });

  /** Starts changes to both apps without waiting for them, so that the kill lands while they are in flight. */
  const startOperations = async (replicas: number) => {
    // One change at a time per app: the previous ones end first.
    for (const id of operations) await p.api('GET', `/operations/${id}?wait=120`);
    const scale = await p.api('PUT', `${apps}/web/scale`, { replicas });
    const restart = await p.api('POST', `${apps}/other/actions`, { action: 'restart' });
    for (const res of [scale, restart]) {
      assert.equal(res.status, 202, JSON.stringify(res.body));
      operations.push(res.body.operation.id);
    }
  };

  /** The longest stretch of failed requests since `from`, in ms (from the last success before it to the first after). */
  const failureWindow = (from: number) => {
    let worst = 0;
    let lastOk = from;
    let failing = false;
    for (const r of traffic.filter((x) => x.at >= from)) {
      if (!r.ok) failing = true;
      else {
        if (failing) worst = Math.max(worst, r.at - lastOk);
        failing = false;
        lastOk = r.at;
      }
    }
    return failing ? Infinity : worst;
  };

  const killAndWait = async (part: 'broker' | 'agent' | 'router', healthy: () => Promise<boolean>) => {
    const pid = p.supervisedPid(part);
    assert.ok(pid > 0, `${part} is not running`);
    const restartsBefore = (logOf(part).match(/starting it again/g) ?? []).length;
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await eventually(
      `${part} to come back by itself`,
      async () => {
        const now = p.supervisedPid(part);
        return now > 0 && now !== pid && (await healthy().catch(() => false));
      },
      60_000,
      25,
    );
    const recovered = Date.now() - killedAt;
    assert.ok(
      (logOf(part).match(/starting it again/g) ?? []).length > restartsBefore,
      `the ${part}'s log says it was started again:\n${logOf(part).slice(-2000)}`,
    );
    assert.match(logOf(part), new RegExp(`${part} was killed by SIGKILL after [0-9.]+ s; starting it again in \\d+ ms`));
    await eventually('requests through the router to succeed again', async () => traffic.at(-1)?.ok && traffic.at(-1)!.at > killedAt, 60_000, 50);
    const window = failureWindow(killedAt - 1000);
    console.log(`# ${part}: healthy again ${recovered} ms after kill -9; requests through the router failed for at most ${window} ms`);
  };

  it('brings the router back by itself; traffic goes on', async () => {
    await startOperations(2);
    const takeovers = () => (logOf('router').match(/took over haproxy \d+, left running by an earlier router/g) ?? []).length;
    const before = takeovers();
    // Healthy: the new router has taken over the HAProxy its predecessor left (rather than starting a second one
    // beside it) and serves through it.
    await killAndWait('router', async () => takeovers() > before && (await p.viaRouter(host)).status === 200);
  });

  it('brings the agent back by itself; its operations finish', async () => {
    await startOperations(1);
    const readyLines = () => (logOf('agent').match(/ ready: /g) ?? []).length;
    const before = readyLines();
    await killAndWait('agent', async () => readyLines() > before);
  });

  it('brings the broker back by itself; nothing acknowledged is lost', async () => {
    await startOperations(2);
    await killAndWait('broker', async () => (await fetch(`${p.baseUrl}/api/v1/healthz`)).status === 200);
  });

  it('ends every operation, with one container per gear', async () => {
    for (const id of operations) {
      const op = await p.api('GET', `/operations/${id}?wait=180`);
      assert.ok(['succeeded', 'failed'].includes(op.body.state), `operation ${id} is still ${op.body.state}\n${tails()}`);
      console.log(`# operation ${op.body.kind}: ${op.body.state}${op.body.error ? ` (${op.body.error})` : ''}`);
    }
    // The last change asked for two web gears: that is what runs, each once.
    await eventually(
      'the app to converge on its last change',
      async () => {
        const app = await p.api('GET', `${apps}/web`);
        return app.body.gears?.length === 2 && app.body.gears.every((g: { state: string }) => g.state === 'running');
      },
      120_000,
    );
    const containers = await p.containers();
    const perGear = new Map<string, number>();
    for (const c of containers) perGear.set(c.Labels['gearshift.gear'], (perGear.get(c.Labels['gearshift.gear']) ?? 0) + 1);
    assert.deepEqual(
      [...perGear].filter(([, n]) => n > 1),
      [],
      'no gear has two containers',
    );
    const gears = [...(await p.api('GET', `${apps}/web`)).body.gears, ...(await p.api('GET', `${apps}/other`)).body.gears];
    assert.deepEqual(
      new Set(containers.map((c) => c.Labels['gearshift.gear'])),
      new Set(gears.map((g: { id: string }) => g.id)),
      'exactly the gears the broker knows',
    );
    assert.equal((await p.viaRouter(host)).status, 200);
    const failed = traffic.filter((r) => !r.ok).length;
    console.log(`# ${traffic.length} requests through the router during the kills, ${failed} failed`);
  });
});
