import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDescriptor } from './descriptor';
import { buildContext, servicePort, startOrder } from './services';
import { SchemaViolationError } from './validation';

/** The violations of a gearshift.yml, as `pointer rule`, in the order they are reported. */
function violations(text: string): string[] {
  try {
    parseDescriptor(text);
  } catch (err) {
    if (err instanceof SchemaViolationError) return err.violations.map((v) => `${v.pointer} ${v.rule}`);
    throw err;
  }
  return [];
}

const APP = `name: shop
cartridges: [redis-7, postgresql-15]
services:
  web:
    kind: web
    build: ./api
    command: node server.js
    env: { QUEUE: jobs, RETRIES: 3 }
    scale: 2
    health: { path: /ready }
    port: 3000
  pricing:
    kind: internal
    image: registry.example.com/acme/pricing:1.4
    port: 9000
  admin:
    kind: web
    build: { context: admin, dockerfile: Dockerfile.prod }
    hosts: [admin.example.com]
  jobs:
    kind: worker
    build: ./worker/
    command: [node, worker.js]
    scale: 0
    dependsOn: [pricing, postgresql-15]
`;

describe('services in gearshift.yml', () => {
  it('reads named services of every kind beside catalogue cartridges', () => {
    const d = parseDescriptor(APP);
    assert.deepEqual(Object.keys(d.services!), ['web', 'pricing', 'admin', 'jobs']);
    assert.equal(d.services!.web.env!.RETRIES, 3);
    assert.deepEqual(
      Object.values(d.services!).map((s) => [buildContext(s.build) ?? s.image, servicePort(s)]),
      [
        ['api', 3000],
        ['registry.example.com/acme/pricing:1.4', 9000],
        ['admin', 8080],
        ['worker', undefined],
      ],
    );
    assert.equal(buildContext('.'), '.');
    assert.equal(buildContext('./'), '.');
  });

  it('lets an app be only services, but not nothing at all', () => {
    assert.deepEqual(violations('name: tiny\ncartridges: []\nservices:\n  web: { kind: web, build: . }\n'), []);
    assert.deepEqual(violations('name: tiny\ncartridges: []\n'), ['/cartridges minItems']);
    assert.deepEqual(violations('name: tiny\ncartridges: []\nservices: {}\n'), ['/cartridges minItems']);
  });

  it('names the field and the rule of each mistake, all at once', () => {
    const got = violations(`name: shop
cartridges: [redis-7]
services:
  api: { kind: web, build: ./api, image: node:24 }
  redis-7: { kind: internal, image: redis:7 }
  www: { kind: web, image: nginx:1.27 }
  cache: { kind: internal, image: memcached:1.6 }
  jobs: { kind: worker, build: /srv/jobs, port: 8000, health: { path: / }, hosts: [jobs.example.com], dependsOn: [mailer] }
  up: { kind: worker, build: ../elsewhere }
  scaled: { kind: web, build: ./s, hosts: [s.example.com], autoscale: { min: 3, max: 2 } }
  loop-a: { kind: worker, image: busybox:1, dependsOn: [loop-b] }
  loop-b: { kind: worker, image: busybox:1, dependsOn: [loop-a] }
`);
    assert.deepEqual(got, [
      '/services/api/build build-or-image',
      '/services/redis-7 unique-name',
      '/services/redis-7/port required',
      '/services/cache/port required',
      '/services/jobs/build relative-path',
      '/services/jobs/port worker-port',
      '/services/jobs/health worker-health',
      '/services/jobs/hosts web-only',
      '/services/jobs/dependsOn known-service',
      '/services/up/build inside-repository',
      '/services/scaled/autoscale/min range',
      '/services/www/hosts one-app-host',
      '/services/loop-a/dependsOn acyclic',
    ]);
  });

  it('checks names, kinds and images by the schema', () => {
    assert.deepEqual(
      violations(
        'name: shop\ncartridges: [static]\nservices:\n  Api: { kind: web, build: . }\n  w: { kind: daemon, image: "file:///x" }\n  x: { image: busybox:1 }\n',
      ),
      ['/services/Api propertyNames', '/services/w/kind enum', '/services/w/image format', '/services/x/kind required'],
    );
    // The one DNS label every object carries as a member is no service's name.
    assert.deepEqual(violations('name: shop\ncartridges: [static]\nservices:\n  constructor: { kind: web, build: . }\n'), [
      '/services/constructor propertyNames',
    ]);
    assert.deepEqual(violations('name: shop\ncartridges: [static]\nservices:\n  w: { kind: web, build: ., scale: 2, autoscale: { min: 1, max: 2 } }\n'), [
      '/services/w/autoscale not',
    ]);
  });

  it('starts each service after those it depends on, otherwise in the order written', () => {
    assert.deepEqual(startOrder({ web: { dependsOn: ['api', 'postgresql-15'] }, api: { dependsOn: ['pricing'] }, jobs: {}, pricing: {} }), [
      'pricing',
      'api',
      'web',
      'jobs',
    ]);
    assert.deepEqual(startOrder({ a: { dependsOn: ['b'] }, b: { dependsOn: ['a'] } }), ['b', 'a']);
  });
});
