import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { importCompose, interpolate, parseDotEnv, SERVICE_KEYS_HONOURED } from './compose';

const ROOT = resolve(__dirname, '../../../..');
const CORPUS = join(ROOT, '..', 'shared', 'corpus', 'awesome-compose');

describe('compose import', () => {
  it('interpolates like compose does', () => {
    const warnings: { pointer: string; reason: string }[] = [];
    const vars = { A: 'x', E: '' };
    assert.equal(interpolate('$A ${A} ${E:-d} ${E-d} ${NONE:-d} $$A', vars, warnings), 'x x d  d $A');
    assert.equal(interpolate('${MISSING}', vars, warnings), '');
    assert.match(warnings[0].reason, /is not set/);
    interpolate('${NEED:?set NEED}', vars, warnings);
    assert.match(warnings[1].reason, /is required: set NEED/);
    assert.deepEqual(parseDotEnv('# c\nA=1\nexport B="two words"\nbad line\n'), { A: '1', B: 'two words' });
  });

  it('maps catalogue images to cartridges and plans an app that runs here', () => {
    const r = importCompose(`
services:
  web:
    image: nginx:1.25
    ports: ["8080:80"]
    depends_on: { db: { condition: service_healthy } }
  db:
    image: postgres:15
    environment: { POSTGRES_PASSWORD: "\${PW:-secret}" }
    volumes: [db-data:/var/lib/postgresql/data]
    healthcheck: { test: [CMD, pg_isready] }
  cache:
    image: redis:7-alpine
    container_name: cache
volumes:
  db-data:
`);
    assert.deepEqual(r.blockers, []);
    assert.deepEqual(r.cartridges, ['static', 'postgresql-15', 'redis-7']);
    assert.deepEqual(r.services.find((s) => s.service === 'web')?.dependsOn, [{ service: 'db', condition: 'service_healthy' }]);
    assert.deepEqual(r.services.find((s) => s.service === 'db')?.healthcheck, ['pg_isready']);
    assert.equal(r.services.find((s) => s.service === 'db')?.env.POSTGRES_PASSWORD, 'secret');
    assert.deepEqual(r.unsupported, [{ pointer: '/services/cache/container_name', reason: 'Gearshift names containers itself (by app, domain, cartridge and gear)' }]);
  });

  it('refuses host bind mounts for users and the Docker socket for everyone', () => {
    const text = 'services:\n  web:\n    image: nginx\n    volumes: ["./site:/usr/share/nginx/html", "/var/run/docker.sock:/var/run/docker.sock"]\n';
    const user = importCompose(text);
    assert.deepEqual(user.blockers.map((b) => b.pointer), ['/services/web/volumes/0', '/services/web/volumes/1']);
    const admin = importCompose(text, { admin: true });
    assert.deepEqual(admin.blockers.map((b) => b.pointer), ['/services/web/volumes/1']);
  });

  it('says what a build needs, and that an app runs one custom container', () => {
    const r = importCompose('services:\n  api:\n    build: { context: backend, target: dev }\n    ports: [3000]\n');
    assert.match(r.services[0].notes[0], /built from the context backend, target dev: that folder must be uploaded/);
    assert.match(r.blockers[0].reason, /is built from backend, which is not here: .* gearshift deploy/);
    assert.equal(r.cartridges, null);
    const two = importCompose('services:\n  a:\n    image: team/a:1\n  b:\n    image: team/b:1\n');
    assert.match(two.blockers[0].reason, /a, b are all custom containers; an app runs one/);
  });

  it('makes an image service the docker-image web gear, wired to catalogue services, with nginx dropped', () => {
    const r = importCompose(
      [
        'services:',
        '  web:',
        '    image: registry.example:5000/team/api:1.2',
        '    ports: ["8000:3000"]',
        '    environment: { GREETING: hi }',
        '    volumes: [uploads:/srv/uploads]',
        '  db: { image: "postgres:15" }',
        '  proxy: { image: nginx }',
        'volumes: { uploads: {} }',
        '',
      ].join('\n'),
    );
    assert.deepEqual(r.blockers, []);
    assert.deepEqual(r.cartridges, [
      { name: 'docker-image', image: 'registry.example:5000/team/api:1.2', port: 3000, env: { GREETING: 'hi' }, volumes: [{ name: 'uploads', path: '/srv/uploads' }] },
      'postgresql-15',
    ]);
    assert.match(r.services.find((s) => s.service === 'proxy')!.notes.join(' '), /dropped: web is the web gear/);
  });

  it('never throws, even on nonsense', () => {
    for (const text of ['', 'services: 3', '[1, 2]', 'services:\n  x: nope\n', ': : :']) {
      const r = importCompose(text);
      assert.ok(r.blockers.length > 0, text);
    }
  });

  it('plans or explains every file of the corpus, leaving no key unaccounted for', { skip: !existsSync(CORPUS) && 'the shared corpus is not beside the repository' }, () => {
    const yaml = require('yaml') as typeof import('yaml');
    let planned = 0;
    let explained = 0;
    for (const sample of readdirSync(CORPUS).sort()) {
      const dir = join(CORPUS, sample);
      const file = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'].map((f) => join(dir, f)).find(existsSync);
      if (!file) continue;
      const envFile = join(dir, '.env');
      const text = readFileSync(file, 'utf8');
      const r = importCompose(text, { env: existsSync(envFile) ? parseDotEnv(readFileSync(envFile, 'utf8')) : {} });
      if (r.cartridges) planned++;
      else explained++;
      assert.ok(r.cartridges !== null || r.blockers.length > 0, `${sample}: neither a plan nor a reason`);
      for (const b of [...r.blockers, ...r.unsupported]) assert.ok(b.pointer !== undefined && b.reason.length > 0, `${sample}: ${JSON.stringify(b)}`);
      // No key is ignored in silence: each is honoured or listed.
      const doc = yaml.parse(text) as { services: Record<string, Record<string, unknown>> };
      for (const [name, service] of Object.entries(doc.services)) {
        for (const key of Object.keys(service)) {
          const listed = r.unsupported.some((u) => u.pointer === `/services/${name}/${key}`);
          assert.ok(SERVICE_KEYS_HONOURED.has(key) || listed, `${sample}: /services/${name}/${key} was neither honoured nor listed`);
        }
        const plan = r.services.find((s) => s.service === name)!;
        if (service.build !== undefined) assert.ok(plan.notes.some((n) => /must be uploaded/.test(n)), `${sample}/${name}: build context not noted`);
      }
    }
    assert.equal(planned + explained, 39);
    console.log(`# corpus: ${planned} file(s) plan an app that runs here, ${explained} explain what stops them`);
  });

  it('reads images with Docker’s grammar: a URL or a bad name blocks the import and names the field', () => {
    const r = importCompose('services:\n  web:\n    image: file:///etc/passwd\n  db:\n    image: Postgres:15\n');
    assert.equal(r.cartridges, null);
    assert.deepEqual(
      r.blockers.map((b) => b.pointer),
      ['/services/web/image', '/services/db/image'],
    );
    assert.match(r.blockers[0].reason, /is not an image reference: "file:\/\/" is a URL scheme/);
    assert.match(r.blockers[1].reason, /must be lowercase/);
    const ok = importCompose('services:\n  db:\n    image: docker.io/library/postgres:15@sha256:' + 'a'.repeat(64) + '\n  web:\n    image: registry:5000/team/api:1.2\n');
    assert.deepEqual(ok.blockers, []);
    assert.deepEqual(ok.services.map((s) => s.becomes), [{ kind: 'cartridge', cartridge: 'postgresql-15' }, { kind: 'container', image: 'registry:5000/team/api:1.2' }]);
  });
});

