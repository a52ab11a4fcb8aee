import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { loadCatalog } from '@gearshift/cartridges';
import { GearshiftError } from '../common/errors';
import { planServices, releaseLineOf, serviceStart } from './release-services';

const catalog = loadCatalog(join(resolve(__dirname, '../../../../..'), 'cartridges'));

const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    const detail = (err as GearshiftError).details as { pointer: string; rule: string }[];
    return `${detail[0].pointer} ${detail[0].rule}`;
  }
  return 'accepted';
};

describe('the services of a pushed source', () => {
  const paths = ['gearshift.yml', 'web/package.json', 'web/server.js', 'api/Dockerfile', 'api/main.go', 'docs/readme.txt'];

  it('builds a folder on the runtime its files call for, a folder with a Dockerfile as docker-image, and runs named images', () => {
    const { services, steps } = planServices(
      {
        web: { kind: 'web', build: './web', port: 3000 },
        api: { kind: 'internal', build: { context: 'api', target: 'run' }, port: 8000, scale: 2 },
        jobs: { kind: 'worker', image: 'busybox:1', command: 'sleep 1000', env: { N: 3 } },
      },
      paths,
      catalog,
    );
    assert.match(services.web.cartridge, /^nodejs-/);
    assert.deepEqual(services.web.build, { context: 'web' });
    assert.equal(services.api.cartridge, 'docker-image');
    assert.deepEqual(services.api.build, { context: 'api', target: 'run' });
    assert.equal(services.api.scale, 2);
    assert.deepEqual(services.jobs, {
      kind: 'worker',
      image: 'busybox:1',
      cartridge: 'docker-image',
      command: 'sleep 1000',
      env: { N: '3' },
      envOverPublished: true,
    });
    assert.match(steps[0], /^service web: detected Node\.js in \.\/web \(package\.json\): built on nodejs-/);
    assert.equal(steps[1], 'service api: built from ./api with its Dockerfile');
    assert.equal(services.api.runtime, undefined);
  });

  it("offers a Dockerfile's build the image of the runtime its folder's files call for, and says so", () => {
    const { services, steps } = planServices(
      { app: { kind: 'web', build: '.', port: 3000 } },
      ['Dockerfile', 'package.json', 'server.js'],
      catalog,
      undefined,
      true,
    );
    assert.equal(services.app.cartridge, 'docker-image');
    assert.match(services.app.runtime ?? '', /^nodejs-/);
    assert.match(
      steps[0],
      /^service app: built from the root of the source with its Dockerfile \(its package\.json calls for Node\.js: ARG GEARSHIFT_CARTRIDGE_IMAGE names the nodejs-\d+ image\)$/,
    );
  });

  it('refuses a folder the source lacks, and one that says nothing of its runtime, naming the field', () => {
    assert.equal(
      refusal(() => planServices({ x: { kind: 'worker', build: './missing' } }, paths, catalog)),
      '/archive/gearshift.yml/services/x/build folder',
    );
    assert.equal(
      refusal(() => planServices({ x: { kind: 'worker', build: './docs' } }, paths, catalog)),
      '/archive/gearshift.yml/services/x/build runtime-detected',
    );
    assert.equal(
      refusal(() => planServices({ x: { kind: 'worker', build: { context: 'api', dockerfile: 'Dockerfile.prod' } } }, paths, catalog, '/archive/compose.yaml')),
      '/archive/compose.yaml/services/x/build/dockerfile file',
    );
  });

  it("takes the release step of a services-only release from the first service in start order whose folder's Procfile names one", () => {
    const { services } = planServices(
      {
        web: { kind: 'web', build: './web', dependsOn: ['api'] },
        api: { kind: 'internal', build: './api', port: 8000 },
        jobs: { kind: 'worker', image: 'busybox:1' },
      },
      paths,
      catalog,
    );
    const texts = { 'web/Procfile': 'release: node migrate.js\n', 'api/Procfile': 'web: ./api\n' };
    assert.deepEqual(releaseLineOf(services, texts), { service: 'web', line: 'node migrate.js' });
    assert.equal(releaseLineOf(services, { 'api/Procfile': 'web: ./api\n' }), null);
  });
});

describe('what starts a service, as its build output says', () => {
  it("is its entrypoint and command when its descriptor names them, else nothing (its image's own)", () => {
    assert.equal(serviceStart({ command: 'node worker.js' }), 'node worker.js');
    assert.equal(serviceStart({ entrypoint: ['node'], command: ['server.js', '--port', '80'] }), 'node server.js --port 80');
    assert.equal(serviceStart({ entrypoint: ['/docker-entrypoint.sh'] }), '/docker-entrypoint.sh');
    assert.equal(serviceStart({}), undefined);
  });
});
