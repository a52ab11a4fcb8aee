import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hostname, networkInterfaces } from 'node:os';
import { GearshiftError } from '../common/errors';
import { checkImageSource, releaseImage, releaseNumberOf, RELEASE_APP_ID, serviceImage } from './release-images';

const appId = '0f8e2c4a-1b2c-4d5e-8f90-a1b2c3d4e5f6';
const other = '7d1e9b00-aaaa-4bbb-8ccc-ddddeeeeffff';
const ctx = { registry: '127.0.0.1:5000', instance: 'gs', appId, releaseImages: [`127.0.0.1:5000/gearshift-apps/gs-${appId.slice(0, 8)}:3`] };

const refused = (image: string, c: Parameters<typeof checkImageSource>[1] = ctx) =>
  assert.rejects(
    () => checkImageSource(image, c, '/cartridges/0/image'),
    (err: unknown) => {
      const detail = err instanceof GearshiftError && Array.isArray(err.details) ? err.details[0] : undefined;
      return (err as GearshiftError).code === 'rule_violation' && detail?.rule === 'image_source' && detail.pointer === '/cartridges/0/image';
    },
    image,
  );
const allowed = (image: string, c: Parameters<typeof checkImageSource>[1] = ctx) =>
  assert.doesNotReject(() => checkImageSource(image, c, '/cartridges/0/image'), image);

describe('release image names', () => {
  it("carry the app's whole id", async () => {
    assert.equal(releaseImage('127.0.0.1:5000', 'gs', appId, 4), `127.0.0.1:5000/gearshift-apps/gs-${appId}:4`);
    assert.equal(releaseImage('', 'gs', appId, 4), `gearshift-apps/gs-${appId}:4`);
    assert.ok(RELEASE_APP_ID.test(appId) && RELEASE_APP_ID.test(appId.slice(0, 8)) && !RELEASE_APP_ID.test('abc'));
  });

  it("name a service's image after its release, in the app's repository, so it goes when its release is pruned", async () => {
    assert.equal(serviceImage('127.0.0.1:5000', 'gs', appId, 4, 'api'), `127.0.0.1:5000/gearshift-apps/gs-${appId}:4-api`);
    assert.deepEqual(['4', '4-api', '4-web-2'].map(releaseNumberOf), ['4', '4', '4']);
    await allowed(serviceImage('127.0.0.1:5000', 'gs', appId, 4, 'api'));
  });
});

describe('docker-image sources', () => {
  it("refuses another app's release in every spelling of the platform registry", async () => {
    for (const host of [
      '127.0.0.1:5000',
      'localhost:5000',
      'LOCALHOST:5000',
      '127.1:5000',
      '127.0.0.2:5000',
      '[::1]:5000',
      '0.0.0.0:5000',
      `${hostname()}:5000`,
    ]) {
      await refused(`${host}/gearshift-apps/gs-${other}:1`);
    }
    await refused(`localhost:5000/gearshift-apps/gs-${other}@sha256:${'a'.repeat(64)}`);
    await refused('127.0.0.1:5000/someone/else:1');
  });

  it("refuses a release named like the app's but of an older name it never recorded", async () => {
    await refused(`127.0.0.1:5000/gearshift-apps/gs-${appId.slice(0, 8)}:9`);
  });

  it("allows the app's own releases, by full id or as recorded before", async () => {
    await allowed(`127.0.0.1:5000/gearshift-apps/gs-${appId}:1`);
    await allowed(`localhost:5000/gearshift-apps/gs-${appId}:12`);
    await allowed(`localhost:5000/gearshift-apps/gs-${appId.slice(0, 8)}:3`);
  });

  it('refuses every platform registry image while the app has no id yet', async () => {
    await refused(`127.0.0.1:5000/gearshift-apps/gs-${appId}:1`, { registry: '127.0.0.1:5000', instance: 'gs' });
  });

  it('allows public references and other registries', async () => {
    for (const image of ['nginx', 'nginx:1.25', 'ghcr.io/team/api:2', 'localhost:5001/x:1', 'registry.example.com:5000/x:1', 'docker.io/library/redis:7'])
      await allowed(image);
  });

  it('allows everything when the platform has no registry', async () => {
    await allowed('127.0.0.1:5000/x:1', { registry: '', instance: 'gs' });
  });

  it('matches a registry named by host name, with the default ports when it has none', async () => {
    await refused('registry.internal:5000/x:1', { registry: 'Registry.Internal:5000', instance: 'gs' });
    await refused('registry.internal/x:1', { registry: 'registry.internal', instance: 'gs' });
    await refused('registry.internal:443/x:1', { registry: 'registry.internal', instance: 'gs' });
    await allowed('localhost:5000/x:1', { registry: 'registry.internal:5000', instance: 'gs' });
  });

  it('refuses an image named by its id or a prefix of it, in any registry context', async () => {
    const id = '972e41fdb44d' + 'a'.repeat(52);
    for (const image of [id, `sha256:${id}`, id.slice(0, 12), '972e4', '9', `sha256:${id.slice(0, 12)}`]) {
      await refused(image);
      await refused(image, { registry: '', instance: 'gs' });
    }
    await assert.rejects(checkImageSource('972e4', ctx, '/cartridges/0/image'), /name an image by repository and tag/);
    await allowed('972e4:1');
  });

  it('refuses the registry with a zero-padded port, an address of this host, or an address of this host', async () => {
    const own = Object.values(networkInterfaces())
      .flatMap((list) => list ?? [])
      .filter((a) => a.family === 'IPv4' && !a.internal)
      .map((a) => a.address);
    for (const host of ['127.0.0.1:05000', 'localhost:05000', ...own.map((a) => `${a}:5000`)]) await refused(`${host}/gearshift-apps/gs-${other}:1`);
    await allowed('127.0.0.1:05001/x:1');
  });
});
