import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Platform } from './support/platform';

/** gearshift.yml: a plan first, then one operation that converges the app; applying twice changes nothing. */
describe('applying app descriptors', { timeout: 600_000 }, () => {
  let p: Platform;

  before(async () => {
    p = await Platform.start('apply');
    assert.equal((await p.api('POST', '/domains', { name: 'repo' })).status, 201);
  });
  after(async () => {
    await p?.stop();
  });

  const apply = async (yaml: string, query = '') => {
    const res = await fetch(`${p.baseUrl}/api/v1/domains/repo/apply${query}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${p.token}`, 'content-type': 'text/yaml' },
      body: yaml,
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const steps = (plan: { action: string; target: string }[]) => plan.map((i) => `${i.action} ${i.target}`);

  const v1 = `
name: shop
cartridges: [nodejs-18, postgresql-15]
env:
  GREETING: hello
  WORKERS: 2
aliases: [www.shop.test]
`;

  it('shows the plan for a new app without making anything', async () => {
    const res = await apply(v1, '?dryRun=true');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(steps(res.body.plan), ['create app shop', 'add env GREETING', 'add env WORKERS', 'add alias www.shop.test']);
    assert.equal((await p.api('GET', '/domains/repo/apps/shop')).status, 404);
  });

  it('creates the app as the file says', async () => {
    const res = await apply(v1, '?wait=180');
    assert.equal(res.status, 202);
    assert.equal(res.body.operation.state, 'succeeded', JSON.stringify(res.body));
    const app = (await p.api('GET', '/domains/repo/apps/shop')).body;
    assert.equal(app.status, 'running');
    assert.deepEqual(app.env, { GREETING: 'hello', WORKERS: '2' });
    assert.deepEqual(
      (await p.api('GET', '/domains/repo/apps/shop/aliases')).body.map((a: { host: string }) => a.host),
      ['www.shop.test'],
    );
  });

  it('changes nothing when the same file is applied again', async () => {
    const res = await apply(v1, '?wait=60');
    assert.deepEqual(res.body.plan, []);
    assert.equal(res.body.operation, null);
    assert.equal(res.body.unchanged, true);
  });

  it('shows and performs exactly the change of an edited file, in one operation', async () => {
    const v2 = v1
      .replace('cartridges: [nodejs-18, postgresql-15]', 'cartridges: [nodejs-18, postgresql-15, redis-7]\nscale: 2')
      .replace('GREETING: hello', 'GREETING: bonjour');
    const plan = await apply(v2, '?dryRun=true');
    assert.deepEqual(steps(plan.body.plan), ['add cartridge redis-7', 'change env GREETING', 'change scale']);
    const res = await apply(v2, '?wait=180');
    assert.equal(res.body.operation.state, 'succeeded', res.body.operation.error);
    assert.equal(res.body.operation.kind, 'app.apply');
    const app = (await p.api('GET', '/domains/repo/apps/shop')).body;
    assert.deepEqual(app.cartridges, ['nodejs-18', 'postgresql-15', 'redis-7']);
    assert.equal(app.scale, 2);
    assert.equal(app.env.GREETING, 'bonjour');
    assert.deepEqual((await apply(v2)).body.plan, [], 'converged');
  });

  it('will not drop a database unless told to, and says what would be lost', async () => {
    const v3 = v1
      .replace('cartridges: [nodejs-18, postgresql-15]', 'cartridges: [nodejs-18, redis-7]\nscale: 2')
      .replace('GREETING: hello', 'GREETING: bonjour');
    const refused = await apply(v3, '?wait=60');
    assert.equal(refused.status, 422);
    assert.match(refused.body.message, /would lose the data of postgresql-15 \(\/var\/lib\/gearshift\/postgresql\)/);
    assert.ok((await p.api('GET', '/domains/repo/apps/shop')).body.cartridges.includes('postgresql-15'), 'nothing changed');
    const done = await apply(v3, '?wait=120&allowDataLoss=true');
    assert.equal(done.body.operation.state, 'succeeded', done.body.operation?.error);
    assert.deepEqual((await p.api('GET', '/domains/repo/apps/shop')).body.cartridges, ['nodejs-18', 'redis-7']);
    assert.equal((await p.containers({ 'gearshift.app-name': 'shop', 'gearshift.cartridge': 'postgresql-15' })).length, 0);
  });

  it('names every problem of a broken file at once', async () => {
    const res = await apply('name: Shop\ncartridges: [nodejs-18]\nscale: 0\nsurprise: yes\n');
    assert.equal(res.status, 400);
    assert.deepEqual(res.body.details.map((d: { pointer: string }) => d.pointer).sort(), ['/name', '/scale', '/surprise']);
    const yaml = await apply('name: [unclosed');
    assert.equal(yaml.status, 400);
    assert.match(yaml.body.message, /not valid YAML/);
  });

  it('plans a compose file as the app it imports to, and says what stops one that does not run here', async () => {
    const compose = 'services:\n  web:\n    image: ghcr.io/acme/notes:2.3.1\n    ports: ["3000:3000"]\n  db:\n    image: postgres:16\n';
    const unnamed = await apply(compose, '?dryRun=true');
    assert.equal(unnamed.status, 400, JSON.stringify(unnamed.body));
    assert.deepEqual(
      unnamed.body.details.map((d: { pointer: string }) => d.pointer),
      ['/name'],
    );
    const plan = await apply(compose, '?dryRun=true&name=notes');
    assert.equal(plan.status, 200, JSON.stringify(plan.body));
    assert.deepEqual(steps(plan.body.plan), ['create app notes']);
    assert.equal((await p.api('GET', '/domains/repo/apps/notes')).status, 404);
    const blocked = await apply('services:\n  web:\n    image: team/web:1\n    volumes: ["/var/run/docker.sock:/var/run/docker.sock"]\n', '?name=notes');
    assert.equal(blocked.status, 422, JSON.stringify(blocked.body));
    assert.deepEqual(blocked.body.details, [
      { pointer: '/services/web/volumes/0', rule: 'docker-socket', message: 'mounts the Docker socket, which would hand the node to the app; refused' },
    ]);
    // A dry run says, one note each, what the file asks for that Gearshift ignores, by service and key.
    const noted = await apply(
      'services:\n  web:\n    image: team/web:1\n    ports: ["80:8080"]\n    privileged: true\n    network_mode: host\n    deploy: { replicas: 2, resources: { limits: { cpus: "2" } } }\n',
      '?dryRun=true&name=notes',
    );
    assert.equal(noted.status, 200, JSON.stringify(noted.body));
    assert.deepEqual(noted.body.notes, [
      'services/web/privileged: ignored: gears never run privileged',
      "services/web/network_mode: ignored: gears always run on their app's own network, never the node's",
      "services/web/deploy/resources: ignored: the gear size sets a gear's memory and CPU",
      "services/web: is reached as web on the app's network, as in the file (and as docker-image)",
    ]);
    assert.deepEqual(steps(noted.body.plan), ['create app notes']);
    // Replicas beyond what the web cartridge runs are refused by its rule, as PUT .../scale refuses them.
    const many = await apply('services:\n  web:\n    image: team/web:1\n    deploy: { replicas: 50 }\n', '?dryRun=true&name=notes');
    assert.equal(many.status, 422, JSON.stringify(many.body));
    assert.deepEqual(
      many.body.details.map((d: { pointer: string; rule: string }) => [d.pointer, d.rule]),
      [['/services/web/deploy/replicas', 'scaling']],
    );
    assert.match(many.body.message, /^the compose file does not run here: \/services\/web\/deploy\/replicas \S+ scales from \d+ to \d+ gears, not 50$/);
    // Several containers of the app's own become its services, built from their folders when its code is pushed.
    const services = await apply('services:\n  api:\n    build: ./api\n    ports: ["80:8080"]\n  jobs:\n    build: ./jobs\n', '?dryRun=true&name=notes');
    assert.equal(services.status, 200, JSON.stringify(services.body));
    assert.deepEqual(steps(services.body.plan), ['create app notes', 'add service api', 'add service jobs']);
  });
  it('names the file it read in what it refuses, and the field of a build path from the root of the machine', async () => {
    const bomb = `services:\n  web:\n    image: nginx\nx-a: &a x\nx-b: [${Array.from({ length: 101 }, () => '*a').join(', ')}]\n`;
    const named = await apply(bomb, '?dryRun=true&name=notes&file=docker-compose.yml');
    assert.equal(named.status, 422, JSON.stringify(named.body));
    assert.match(named.body.message, /^docker-compose\.yml writes more than 100 aliases/);
    const unnamed = await apply(bomb, '?dryRun=true&name=notes');
    assert.match(unnamed.body.message, /^the compose file writes more than 100 aliases/);
    assert.equal((await apply(bomb, '?dryRun=true&file=a/b')).status, 400);
    const absolute = await apply('services:\n  web:\n    build: /etc\n    ports: ["80:80"]\n', '?dryRun=true&name=notes&file=compose.yaml');
    assert.equal(absolute.status, 422, JSON.stringify(absolute.body));
    assert.match(absolute.body.message, /^compose\.yaml does not run here/);
    assert.deepEqual(absolute.body.details, [
      {
        pointer: '/services/web/build',
        rule: 'relative-path',
        message: 'is an absolute path (/etc): build paths are relative to the repository, such as ./web',
      },
    ]);
    const descriptor = await apply('name: notes\ncartridges: []\nservices:\n  web: { kind: web, build: /etc }\n', '?dryRun=true');
    assert.equal(descriptor.status, 400, JSON.stringify(descriptor.body));
    assert.deepEqual(
      descriptor.body.details.map((d: { pointer: string; rule: string }) => [d.pointer, d.rule]),
      [['/services/web/build', 'relative-path']],
    );
  });

  it('makes nothing when a gearshift.yml names another app than the one it is applied to, as a push does', async () => {
    const res = await apply('name: other\ncartridges: [static]\n', '?wait=60&name=x');
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.deepEqual(
      res.body.details.map((d: { pointer: string; rule: string }) => [d.pointer, d.rule]),
      [['/name', 'same-app']],
    );
    assert.match(res.body.message, /the file describes app "other", but it is applied to "x"/);
    assert.equal((await p.api('GET', '/domains/repo/apps/other')).status, 404);
    assert.equal((await p.api('GET', '/domains/repo/apps/x')).status, 404);
  });

  it('applies a compose file to an existing app as cartridges only: its environment, aliases and health stay', async () => {
    const compose = 'services:\n  api:\n    build: ./api\n    ports: ["80:8080"]\n  cache:\n    image: redis:7\n  search:\n    image: mariadb:11\n';
    const res = await apply(compose, '?dryRun=true&name=shop');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(steps(res.body.plan), ['add cartridge mariadb-11.8']);
  });
});
