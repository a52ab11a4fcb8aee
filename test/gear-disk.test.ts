import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { docker, execIn } from './support/docker';
import { eventually, Platform } from './support/platform';

/**
 * A gear that writes without end to its own filesystem (which Docker bounds on no ext4 host) would fill its node's
 * disk. Its node measures what each gear wrote (GEARSHIFT_GEAR_DISK_MB, here 32 MB, looked at every second) and
 * replaces one past the bound: the app serves again from a fresh container of the same gear, and its logs say why.
 */
describe("a gear's writes to its own filesystem", { timeout: 300_000 }, () => {
  let p: Platform;
  const apps = '/domains/disk/apps';
  const host = 'filler-disk.localhost';
  const containersOf = async (gearId: string) =>
    (await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`gearshift.instance=${p.instance}`, `gearshift.gear=${gearId}`] }) })).map(
      (c) => ({ id: c.Id, state: c.State }),
    );

  before(async () => {
    p = await Platform.start('gear-disk', { node1: {} }, { router: true, env: { GEARSHIFT_GEAR_DISK_MB: '32', GEARSHIFT_GEAR_DISK_CHECK_MS: '1000' } });
    assert.equal((await p.api('POST', '/domains', { name: 'disk' })).status, 201);
    const created = await p.api('POST', `${apps}?wait=120`, { name: 'filler', cartridges: ['nodejs-24'] });
    assert.equal(created.body.operation?.state, 'succeeded', JSON.stringify(created.body));
  });
  after(async () => {
    await p?.stop();
  });

  it('leaves a gear within its bound alone', async () => {
    const [gear] = (await p.api('GET', `${apps}/filler`)).body.gears as { id: string }[];
    const [before] = await containersOf(gear.id);
    await execIn(before.id, ['sh', '-c', 'dd if=/dev/zero of=/tmp/small bs=1M count=8 2>&1']);
    // Several of the node's checks go by.
    await new Promise((r) => setTimeout(r, 3000));
    assert.deepEqual(await containersOf(gear.id), [before]);
  });

  it('replaces a gear past its bound with a fresh container that serves, and says why in its logs', async () => {
    const [gear] = (await p.api('GET', `${apps}/filler`)).body.gears as { id: string }[];
    const [before] = await containersOf(gear.id);
    assert.equal((await p.viaRouter(host)).status, 200);
    const wrote = await execIn(before.id, ['sh', '-c', 'dd if=/dev/zero of=/tmp/fill bs=1M count=48 2>&1; echo exit=$?']);
    assert.match(wrote, /exit=0/, wrote);
    await eventually(
      'the gear to run in a fresh container',
      async () => {
        const now = await containersOf(gear.id);
        return now.length === 1 && now[0].id !== before.id && now[0].state === 'running';
      },
      60_000,
      200,
    );
    const [fresh] = await containersOf(gear.id);
    assert.equal((await execIn(fresh.id, ['sh', '-c', 'test -e /tmp/fill && echo kept || echo gone'])).trim(), 'gone');
    await eventually('the app to serve again', async () => (await p.viaRouter(host).catch(() => null))?.status === 200, 60_000, 200);
    const logs = await (await fetch(`${p.baseUrl}/api/v1${apps}/filler/logs?tail=20`, { headers: { authorization: `Bearer ${p.token}` } })).text();
    assert.match(
      logs,
      /, was replaced for its disk use at [^\]]+\] gearshift: replaced: the gear wrote \d+ MB to its container's filesystem, more than the 32 MB a gear may \(GEARSHIFT_GEAR_DISK_MB\)/,
      logs,
    );
    const app = (await p.api('GET', `${apps}/filler`)).body;
    assert.equal(app.gears.length, 1);
    assert.equal(app.gears[0].id, gear.id, 'the same gear, in a fresh container');
  });
});
