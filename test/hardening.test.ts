import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type Docker from 'dockerode';
import { docker, execIn, getJson, Platform } from './support/platform';

/**
 * Gears are confined as OpenShift's restricted policy does: every capability dropped but the ones the cartridge's
 * manifest declares, no new privileges, memory, CPU and process limits, and a read-only root where the cartridge
 * allows one; and the app still answers and reaches its database.
 */
describe('hardened gears', { timeout: 600_000 }, () => {
  let p: Platform;
  let url = '';
  const gear: Record<string, Docker.ContainerInspectInfo> = {};

  before(async () => {
    p = await Platform.start('hardening');
    assert.equal((await p.api('POST', '/domains', { name: 'sec' })).status, 201);
    const res = await p.api('POST', '/domains/sec/apps?wait=300', { name: 'locked', cartridges: ['nodejs-18', 'postgresql-15'] });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.operation.state, 'succeeded', `${res.body.operation.error}\n${p.logs()}`);
    url = res.body.gears.find((g: { ports: { http?: number } }) => g.ports.http).endpoints.http;
    for (const cartridge of ['nodejs-18', 'postgresql-15']) {
      const [c] = await p.containers({ 'gearshift.app-name': 'locked', 'gearshift.cartridge': cartridge });
      assert.ok(c, `a ${cartridge} gear runs`);
      gear[cartridge] = await docker.getContainer(c.Id).inspect();
    }
  });
  after(async () => {
    await p?.stop();
  });

  for (const cartridge of ['nodejs-18', 'postgresql-15']) {
    it(`${cartridge}: no new privileges, every capability dropped and none added back, limits on memory, CPU and processes`, () => {
      const h = gear[cartridge].HostConfig;
      assert.deepEqual(h.SecurityOpt, ['no-new-privileges:true']);
      assert.deepEqual(h.CapDrop, ['ALL']);
      // Both run as their image's own user: their manifests declare no capability.
      assert.deepEqual(h.CapAdd ?? [], []);
      // The app's size (small): 256 MB without swap, half a CPU, 512 processes.
      assert.equal(h.Memory, 256 * 1024 * 1024);
      assert.equal(h.MemorySwap, 256 * 1024 * 1024);
      assert.equal(h.NanoCpus, 500_000_000);
      assert.equal(h.PidsLimit, 512);
    });

    it(`${cartridge}: a process in the gear runs as a user other than root, with no capability and no way to gain one`, async () => {
      const status = await execIn(gear[cartridge].Id, ['sh', '-c', 'id -u; grep -E "^(CapEff|CapPrm|CapBnd|NoNewPrivs):" /proc/self/status']);
      const [uid, ...lines] = status.trim().split('\n');
      assert.notEqual(Number(uid), 0, status);
      const fields = Object.fromEntries(lines.map((l) => l.split(/:\s+/)));
      assert.deepEqual(fields, { CapEff: '0000000000000000', CapPrm: '0000000000000000', CapBnd: '0000000000000000', NoNewPrivs: '1' });
    });
  }

  it('postgresql-15: a read-only root, with tmpfs for its socket and temporary files, as its manifest declares', async () => {
    const h = gear['postgresql-15'].HostConfig;
    assert.equal(h.ReadonlyRootfs, true);
    assert.deepEqual(Object.keys(h.Tmpfs ?? {}).sort(), ['/run/postgresql', '/tmp']);
    const id = gear['postgresql-15'].Id;
    assert.match(await execIn(id, ['sh', '-c', 'touch /etc/gearshift-probe 2>&1; echo $?']), /Read-only file system[\s\S]*1\s*$/);
    // The volume and the tmpfs stay writable.
    assert.match(
      await execIn(id, ['sh', '-c', 'touch /var/lib/gearshift/postgresql/probe /tmp/probe && rm /var/lib/gearshift/postgresql/probe && echo ok']),
      /ok/,
    );
  });

  it('nodejs-18: a writable root, as its manifest declares (an app may write beside itself)', () => {
    assert.equal(gear['nodejs-18'].HostConfig.ReadonlyRootfs, false);
  });

  it('the app still answers HTTP and writes and reads a row in its database, and no gear restarted', async () => {
    const page = await getJson(url);
    assert.equal(page?.body.database?.reachable, true, JSON.stringify(page?.body));
    const test = await getJson(`${url}/selftest`);
    assert.ok(test?.body.postgresql?.wrote, JSON.stringify(test?.body));
    assert.equal(test?.body.postgresql.read, test?.body.postgresql.wrote, JSON.stringify(test?.body));
    for (const cartridge of ['nodejs-18', 'postgresql-15']) {
      const now = await docker.getContainer(gear[cartridge].Id).inspect();
      assert.equal(now.State.Status, 'running', cartridge);
      assert.equal(now.RestartCount, 0, cartridge);
    }
  });
});
