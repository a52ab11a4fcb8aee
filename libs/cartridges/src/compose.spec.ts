import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { entryName } from './cartridge-options';
import { parseDescriptor } from './descriptor';
import {
  cartridgeForImage,
  COMPOSE_IMAGE_FAMILIES,
  composeDescriptor,
  composeNotes,
  importCompose,
  interpolate,
  parseDotEnv,
  splitWords,
  SERVICE_KEYS_HONOURED,
  type ComposeImport,
  type ComposeIssue,
  type ServicePlan,
} from './compose';

const ROOT = resolve(__dirname, '../../../..');
/** Compose files in the shapes real projects use, kept with the tests: one folder each, a .env beside some. */
const OWN_CORPUS = join(ROOT, 'test', 'fixtures', 'compose');
/** A larger corpus of public samples, read too when it happens to sit beside the repository. */
const OUTSIDE_CORPUS = join(ROOT, '..', 'shared', 'corpus', 'awesome-compose');
const CORPORA: [string, string][] = [
  ['the fixture corpus', OWN_CORPUS],
  ...(existsSync(OUTSIDE_CORPUS) ? [['the awesome-compose corpus', OUTSIDE_CORPUS] as [string, string]] : []),
];
const COMPOSE_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

/** Imports the compose file of a sample folder with its .env, as `gearshift import` does. */
function importSample(dir: string, file = COMPOSE_FILES.map((f) => join(dir, f)).find(existsSync)!): ComposeImport {
  const envFile = join(dir, '.env');
  return importCompose(readFileSync(file, 'utf8'), { env: existsSync(envFile) ? parseDotEnv(readFileSync(envFile, 'utf8')) : {} });
}

/** Each file either plans an app or says what stops it, and every service key is honoured or listed with a reason. */
function walkCorpus(corpus: string): { planned: number; explained: number; plans: string[] } {
  const yaml = require('yaml') as typeof import('yaml');
  let planned = 0;
  let explained = 0;
  const plans: string[] = [];
  for (const sample of readdirSync(corpus).sort()) {
    const dir = join(corpus, sample);
    const file = COMPOSE_FILES.map((f) => join(dir, f)).find(existsSync);
    if (!file) continue;
    const text = readFileSync(file, 'utf8');
    const r = importSample(dir, file);
    if (r.cartridges) {
      planned++;
      plans.push(sample);
    } else explained++;
    assert.ok(r.cartridges !== null || r.blockers.length > 0, `${sample}: neither a plan nor a reason`);
    for (const b of [...r.blockers, ...r.unsupported]) assert.ok(b.pointer !== undefined && b.reason.length > 0, `${sample}: ${JSON.stringify(b)}`);
    const doc = yaml.parse(text) as { services: Record<string, Record<string, unknown>> };
    for (const [name, service] of Object.entries(doc.services)) {
      for (const key of Object.keys(service)) {
        const listed = r.unsupported.some((u) => u.pointer === `/services/${name}/${key}`);
        assert.ok(SERVICE_KEYS_HONOURED.has(key) || listed, `${sample}: /services/${name}/${key} was neither honoured nor listed`);
      }
      const plan = r.services.find((s) => s.service === name)!;
      if (service.build !== undefined)
        assert.ok(
          plan.notes.some((n) => /must be uploaded/.test(n)),
          `${sample}/${name}: build context not noted`,
        );
    }
  }
  return { planned, explained, plans };
}

const CATALOGUE_NOTE = (image: string, cartridge: string) =>
  `${image} becomes the ${cartridge} cartridge; its credentials are generated and published to the app's web gears`;
const NGINX_NOTE = (image: string) => `${image} becomes the static cartridge; the router does the proxying, so an nginx proxy configuration is not used`;
const GIVES_WAY = (names: string) => `its environment (${names}) gives way to the cartridge's generated credentials`;
const NOT_IMPORTED = 'is not a key Gearshift imports';
const REACHED = (name: string, cartridge: string) => `is reached as ${name} on the app's network, as in the file (and as ${cartridge})`;
/** A cartridge entry that keeps the compose service's name on the app's network. */
const aka = (name: string, alias: string) => ({ name, aliases: [alias] });
const PG16_NOTE = (image: string) =>
  `${image} asks for version 16, which the catalogue does not have: it runs postgresql-17, the nearest newer one (a data directory made by PostgreSQL 16 does not open in it: move data with a dump and restore)`;

/** What each file of the fixture corpus becomes, or why it is refused; for each service, the fields listed. */
const EXPECTED: Record<
  string,
  {
    cartridges: ComposeImport['cartridges'];
    appServices?: ComposeImport['appServices'];
    blockers?: ComposeIssue[];
    unsupported?: ComposeIssue[];
    warnings?: ComposeIssue[];
    volumes?: string[];
    services: Record<string, Partial<ServicePlan>>;
  }
> = {
  'notes-postgres': {
    cartridges: [
      {
        name: 'docker-image',
        image: 'ghcr.io/acme/notes:2.3.1',
        port: 3000,
        env: { NODE_ENV: 'production', SESSION_SECRET: 'change-me', DATABASE_URL: 'postgres://notes:notes-pw@db:5432/notes' },
        aliases: ['web'],
      },
      aka('postgresql-17', 'db'),
    ],
    volumes: ['pgdata'],
    services: {
      web: {
        becomes: { kind: 'container', image: 'ghcr.io/acme/notes:2.3.1' },
        ports: [{ target: 3000, published: 3000 }],
        dependsOn: [{ service: 'db', condition: 'service_healthy' }],
        notes: [REACHED('web', 'docker-image')],
      },
      db: {
        becomes: { kind: 'cartridge', cartridge: 'postgresql-17' },
        volumes: [{ name: 'pgdata', path: '/var/lib/postgresql/data' }],
        healthcheck: ['sh', '-c', 'pg_isready -U notes -d notes'],
        notes: [
          CATALOGUE_NOTE('postgres:16-alpine', 'postgresql-17'),
          PG16_NOTE('postgres:16-alpine'),
          GIVES_WAY('POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB'),
          REACHED('db', 'postgresql-17'),
        ],
      },
    },
  },
  'nginx-app-db': {
    cartridges: null,
    blockers: [
      {
        pointer: '/services/proxy/volumes/0',
        rule: 'host-paths',
        reason:
          "bind-mounts ./nginx/default.conf from the host; gears never mount the node's paths: keep the data in a named volume (NAME:/etc/nginx/conf.d/default.conf)",
      },
    ],
    volumes: ['db-data'],
    services: {
      proxy: {
        becomes: { kind: 'cartridge', cartridge: 'static' },
        ports: [{ target: 80, published: 80 }],
        dependsOn: [{ service: 'app', condition: 'service_started' }],
        notes: [NGINX_NOTE('nginx:1.27-alpine'), 'dropped: app is the web service, and the router does the proxying'],
      },
      app: {
        becomes: { kind: 'container', build: { context: './app', dockerfile: 'Dockerfile.prod', target: undefined } },
        ports: [{ target: 8000, published: undefined }],
        env: { DATABASE_HOST: 'db', DATABASE_PASSWORD_FILE: '/run/secrets/db-password' },
        secrets: ['db-password'],
        notes: ['built from the context ./app (Dockerfile.prod): that folder must be uploaded with the app'],
      },
      db: { becomes: { kind: 'cartridge', cartridge: 'postgresql-17' }, ports: [{ target: 5432 }], secrets: ['db-password'], healthcheck: ['pg_isready'] },
    },
  },
  'cache-worker': {
    cartridges: [aka('redis-7', 'cache')],
    appServices: {
      web: {
        kind: 'web',
        image: 'registry.example.com/shop/storefront:4.2.0',
        command: ['node', 'server.js'],
        env: { REDIS_URL: 'redis://cache:6379/0', QUEUE: 'default' },
        port: 8080,
        dependsOn: ['redis-7'],
      },
      worker: {
        kind: 'worker',
        image: 'registry.example.com/shop/storefront:4.2.0',
        command: ['node', 'worker.js', '--concurrency', '4'],
        env: { REDIS_URL: 'redis://cache:6379/0', QUEUE: 'default' },
        dependsOn: ['redis-7'],
      },
    },
    volumes: ['cache-data'],
    services: {
      web: { command: ['node', 'server.js'], env: { REDIS_URL: 'redis://cache:6379/0', QUEUE: 'default' }, ports: [{ target: 8080, published: 8080 }] },
      worker: { command: ['node', 'worker.js', '--concurrency', '4'], env: { REDIS_URL: 'redis://cache:6379/0', QUEUE: 'default' }, ports: [] },
      cache: {
        becomes: { kind: 'cartridge', cartridge: 'redis-7' },
        volumes: [{ name: 'cache-data', path: '/data' }],
        command: ['redis-server', '--appendonly', 'yes'],
      },
    },
  },
  'api-dockerfile': {
    cartridges: [aka('redis-7', 'cache')],
    appServices: {
      api: { kind: 'web', build: { context: '.', dockerfile: 'docker/api.Dockerfile', target: 'runtime' }, port: 4000, dependsOn: ['redis-7'] },
    },
    services: {
      api: {
        becomes: { kind: 'container', build: { context: '.', dockerfile: 'docker/api.Dockerfile', target: 'runtime' }, image: 'acme/api:dev' },
        ports: [{ target: 4000, published: 4000 }],
        dependsOn: [{ service: 'cache', condition: 'service_started' }],
        notes: [
          'built from the context . (docker/api.Dockerfile), target runtime: that folder must be uploaded with the app',
          'reads .env.api at import: those files must be present',
        ],
      },
      cache: { becomes: { kind: 'cartridge', cartridge: 'redis-7' }, notes: [CATALOGUE_NOTE('redis:7', 'redis-7'), REACHED('cache', 'redis-7')] },
    },
  },
  healthchecks: {
    cartridges: [
      { name: 'docker-image', image: 'ghcr.io/acme/inventory:1.8', port: 8000, aliases: ['app'] },
      aka('mariadb-11.8', 'db'),
      aka('redis-7', 'cache'),
    ],
    // No .env beside it: the required variable is reported, and the cartridge's generated credentials replace it anyway.
    warnings: [{ pointer: '${DB_ROOT_PASSWORD}', reason: 'is required: set DB_ROOT_PASSWORD in .env' }],
    volumes: ['db'],
    services: {
      app: {
        healthcheck: ['sh', '-c', 'curl -fsS http://localhost:8000/health || exit 1'],
        dependsOn: [
          { service: 'db', condition: 'service_healthy' },
          { service: 'cache', condition: 'service_healthy' },
        ],
      },
      db: {
        becomes: { kind: 'cartridge', cartridge: 'mariadb-11.8' },
        healthcheck: ['healthcheck.sh', '--connect', '--innodb_initialized'],
        env: { MARIADB_ROOT_PASSWORD: '', MARIADB_DATABASE: 'inventory' },
      },
      cache: { becomes: { kind: 'cartridge', cartridge: 'redis-7' }, healthcheck: ['sh', '-c', 'redis-cli ping | grep PONG'] },
    },
  },
  'migrate-then-serve': {
    cartridges: [aka('postgresql-15', 'db')],
    // Started after what it waits for: the migration first, then the web service.
    appServices: {
      migrate: {
        kind: 'worker',
        image: 'ghcr.io/acme/ledger:3.0',
        command: ['./manage', 'migrate'],
        env: { DATABASE_URL: 'postgres://ledger:ledger@db/ledger' },
        dependsOn: ['postgresql-15'],
      },
      web: {
        kind: 'web',
        image: 'ghcr.io/acme/ledger:3.0',
        command: ['./manage', 'serve', '--port', '8000'],
        env: { DATABASE_URL: 'postgres://ledger:ledger@db/ledger' },
        port: 8000,
        dependsOn: ['migrate', 'postgresql-15'],
      },
    },
    services: {
      migrate: {
        command: ['./manage', 'migrate'],
        dependsOn: [{ service: 'db', condition: 'service_healthy' }],
        notes: [
          'web waits for it to finish, as a one-off step; here it runs as a worker service, started again when it exits: a step to run once per deployment belongs in the release process (Procfile release:) or the deploy hook',
        ],
      },
      web: {
        ports: [{ target: 8000, published: undefined }],
        dependsOn: [
          { service: 'migrate', condition: 'service_completed_successfully' },
          { service: 'db', condition: 'service_healthy' },
        ],
      },
      db: {
        becomes: { kind: 'cartridge', cartridge: 'postgresql-15' },
        healthcheck: ['sh', '-c', 'pg_isready -U ledger'],
        notes: [CATALOGUE_NOTE('postgres:15', 'postgresql-15'), GIVES_WAY('POSTGRES_USER, POSTGRES_PASSWORD'), REACHED('db', 'postgresql-15')],
      },
    },
  },
  'blog-env-file': {
    cartridges: [
      {
        name: 'docker-image',
        image: 'ghcr.io/acme/blog:5',
        port: 2368,
        env: { url: 'http://localhost:2368', database__client: 'mysql', database__connection__host: 'db' },
        volumes: [{ name: 'content', path: '/var/lib/blog/content' }],
        aliases: ['blog'],
      },
      aka('mariadb-11.8', 'db'),
    ],
    volumes: ['content', 'mysql'],
    services: {
      blog: {
        dependsOn: [{ service: 'db', condition: 'service_started' }],
        notes: ['reads ./config/blog.env at import: those files must be present', REACHED('blog', 'docker-image')],
      },
      db: {
        becomes: { kind: 'cartridge', cartridge: 'mariadb-11.8' },
        notes: [
          CATALOGUE_NOTE('mysql:8.0', 'mariadb-11.8'),
          'mysql:8.0 asks for version 8.0, which the catalogue does not have: it runs mariadb-11.8, the nearest newer one',
          'reads ./config/db.env at import: those files must be present',
          REACHED('db', 'mariadb-11.8'),
        ],
      },
    },
  },
  'static-site': {
    cartridges: [aka('static', 'site')],
    volumes: ['html'],
    services: {
      site: {
        becomes: { kind: 'cartridge', cartridge: 'static' },
        ports: [{ target: 80, published: 8080 }],
        volumes: [{ name: 'html', path: '/usr/share/nginx/html' }],
        notes: [NGINX_NOTE('nginx:stable-alpine'), REACHED('site', 'static')],
      },
    },
  },
  'host-monitor': {
    cartridges: null,
    blockers: [
      {
        pointer: '/services/agent/volumes/0',
        rule: 'host-paths',
        reason: "bind-mounts /proc from the host; gears never mount the node's paths: keep the data in a named volume (NAME:/host/proc)",
      },
      { pointer: '/services/agent/volumes/1', rule: 'docker-socket', reason: 'mounts the Docker socket, which would hand the node to the app; refused' },
    ],
    unsupported: [
      { pointer: '/services/agent/privileged', reason: 'gears never run privileged' },
      { pointer: '/services/agent/network_mode', reason: "gears always run on their app's own network, never the node's" },
      { pointer: '/services/agent/pid', reason: "gears always have process namespaces of their own, never the node's" },
      { pointer: '/services/agent/cap_add', reason: 'gears run with every kernel capability dropped; none is added' },
    ],
    services: {
      dashboard: { becomes: { kind: 'container', image: 'ghcr.io/acme/dashboard:0.9' }, ports: [{ target: 3001, published: 3001 }] },
      agent: { becomes: { kind: 'container', image: 'ghcr.io/acme/host-agent:0.9' }, volumes: [] },
    },
  },
  'frontend-backend-builds': {
    cartridges: [aka('postgresql-15', 'db')],
    // The backend listens on no port it declares: a worker; the frontend, which waits for it, starts after it.
    appServices: {
      backend: {
        kind: 'worker',
        build: { context: './backend', dockerfile: 'Dockerfile' },
        env: { DATABASE_URL: 'postgresql://app:app@db/app' },
        dependsOn: ['postgresql-15'],
      },
      frontend: { kind: 'web', build: './frontend', port: 3000, dependsOn: ['backend'] },
    },
    unsupported: [{ pointer: '/networks', reason: 'each app has one private network of its own; declared networks are not used' }],
    volumes: ['pg'],
    services: {
      frontend: {
        becomes: { kind: 'container', build: { context: './frontend', dockerfile: undefined, target: undefined } },
        notes: ['built from the context ./frontend: that folder must be uploaded with the app'],
      },
      backend: {
        becomes: { kind: 'container', build: { context: './backend', dockerfile: 'Dockerfile', target: undefined } },
        dependsOn: [{ service: 'db', condition: 'service_healthy' }],
      },
      db: {
        becomes: { kind: 'cartridge', cartridge: 'postgresql-15' },
        healthcheck: ['sh', '-c', 'pg_isready -U app'],
        volumes: [{ name: 'pg', path: '/var/lib/postgresql/data' }],
      },
    },
  },
  // The compose form of the several-services app the end-to-end test pushes (test/services-multi.test.ts): three
  // services built from their folders, a development source mount dropped and its anonymous volume each gear's own.
  'services-app': {
    cartridges: [aka('postgresql-17', 'db'), aka('redis-7', 'cache')],
    appServices: {
      internal: { kind: 'internal', build: './internal', port: 5000 },
      api: {
        kind: 'web',
        build: './api',
        env: { INTERNAL_URL: 'http://internal:5000', DATABASE_URL: 'postgres://jobs:jobs@db:5432/jobs', REDIS_URL: 'redis://cache:6379/0' },
        port: 8080,
        dependsOn: ['postgresql-17', 'redis-7', 'internal'],
        volumes: [{ path: '/app/node_modules' }],
      },
      worker: {
        kind: 'worker',
        build: './worker',
        env: { DATABASE_URL: 'postgres://jobs:jobs@db:5432/jobs', REDIS_URL: 'redis://cache:6379/0' },
        dependsOn: ['postgresql-17', 'redis-7'],
      },
    },
    volumes: ['pgdata'],
    services: {
      api: {
        becomes: { kind: 'container', build: { context: './api', dockerfile: undefined, target: undefined } },
        ports: [{ target: 8080, published: 8080 }],
        volumes: [{ path: '/app/node_modules' }],
        notes: [
          'built from the context ./api: that folder must be uploaded with the app',
          'drops the bind mount ./api:/app, used in development: the code is baked into the image when it is built',
          "the anonymous volume /app/node_modules is each gear's own, as in Docker: made from its image's content there and removed with the gear, so each release starts with its own files (name the volume, NAME:/app/node_modules, to keep data across releases)",
        ],
      },
      internal: { ports: [{ target: 5000, published: undefined }], notes: ['built from the context ./internal: that folder must be uploaded with the app'] },
      worker: {
        ports: [],
        dependsOn: [
          { service: 'db', condition: 'service_healthy' },
          { service: 'cache', condition: 'service_started' },
        ],
      },
      db: {
        becomes: { kind: 'cartridge', cartridge: 'postgresql-17' },
        notes: [CATALOGUE_NOTE('postgres:17', 'postgresql-17'), GIVES_WAY('POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB'), REACHED('db', 'postgresql-17')],
      },
      cache: { becomes: { kind: 'cartridge', cartridge: 'redis-7' }, notes: [CATALOGUE_NOTE('redis:7', 'redis-7'), REACHED('cache', 'redis-7')] },
    },
  },
  'billing-secrets': {
    cartridges: [
      { name: 'docker-image', image: 'ghcr.io/acme/billing:5.1', port: 9000, env: { DB_PASSWORD_FILE: '/run/secrets/db_password' }, aliases: ['app'] },
      aka('postgresql-15', 'db'),
    ],
    unsupported: [
      { pointer: '/version', reason: 'obsolete in the compose specification; not used' },
      { pointer: '/secrets/stripe_key', reason: 'only file secrets are supported' },
      { pointer: '/services/app/container_name', reason: 'Gearshift names containers itself (by app, domain, cartridge and gear)' },
      { pointer: '/services/app/hostname', reason: 'gears are reached by their cartridge name on the app network' },
      { pointer: '/services/app/logging', reason: NOT_IMPORTED },
      { pointer: '/services/db/logging', reason: NOT_IMPORTED },
    ],
    services: {
      app: { secrets: ['stripe_key', 'db_password'] },
      db: { becomes: { kind: 'cartridge', cartridge: 'postgresql-15' }, secrets: ['db_password'] },
    },
  },
};

/**
 * What each file of the outside corpus becomes: the catalogue cartridges and the app's own services of a plan, or the
 * fields that stop it. Several containers of the app's own, builds, anonymous volumes and development source mounts
 * plan; what stops the rest is a host path or the Docker socket.
 */
const OUTSIDE_EXPECTED: Record<string, { cartridges: string[]; services: string[] } | { blockers: string[] }> = {
  angular: { cartridges: [], services: ['web'] },
  'apache-php': { cartridges: [], services: ['web'] },
  'aspnet-mssql': { cartridges: [], services: ['web', 'db'] },
  django: { cartridges: [], services: ['web'] },
  'elasticsearch-logstash-kibana': { blockers: ['/services/logstash/volumes/0', '/services/logstash/volumes/1'] },
  fastapi: { cartridges: [], services: ['api'] },
  flask: { cartridges: [], services: ['web'] },
  'flask-redis': { cartridges: [], services: ['redis', 'web'] },
  'gitea-postgres': { cartridges: ['docker-image', 'postgresql-17'], services: [] },
  minecraft: { blockers: ['/services/minecraft/volumes/0'] },
  'nextcloud-postgres': { cartridges: ['docker-image', 'postgresql-17'], services: [] },
  'nextcloud-redis-mariadb': { cartridges: ['docker-image', 'valkey-8', 'mariadb-10.11'], services: [] },
  'nginx-aspnet-mysql': { cartridges: ['mariadb-10.11'], services: ['backend', 'proxy'] },
  'nginx-flask-mongo': { blockers: ['/services/web/volumes/0'] },
  'nginx-flask-mysql': { cartridges: ['mariadb-10.11'], services: ['backend', 'proxy'] },
  'nginx-golang': { blockers: ['/services/proxy/volumes/0'] },
  'nginx-golang-mysql': { blockers: ['/services/proxy/volumes/0'] },
  'nginx-golang-postgres': { blockers: ['/services/proxy/volumes/0'] },
  'nginx-nodejs-redis': { cartridges: [], services: ['redis', 'web1', 'web2', 'nginx'] },
  'nginx-wsgi-flask': { cartridges: [], services: ['flask-app', 'nginx-proxy'] },
  'pihole-cloudflared-DoH': { blockers: ['/services/pihole/volumes/0', '/services/pihole/volumes/1'] },
  plex: { blockers: ['/services/plex/volumes/0'] },
  portainer: { blockers: ['/services/portainer/volumes/0'] },
  'postgresql-pgadmin': { cartridges: ['docker-image', 'postgresql-17'], services: [] },
  'prometheus-grafana': { blockers: ['/services/prometheus/volumes/0', '/services/grafana/volumes/0'] },
  'react-express-mongodb': { cartridges: [], services: ['mongo', 'backend', 'frontend'] },
  'react-express-mysql': { cartridges: ['mariadb-10.11'], services: ['backend', 'frontend'] },
  'react-java-mysql': { cartridges: ['mariadb-10.11'], services: ['backend', 'frontend'] },
  'react-nginx': { cartridges: [], services: ['frontend'] },
  'react-rust-postgres': { cartridges: ['postgresql-15'], services: ['frontend', 'backend'] },
  sparkjava: { cartridges: [], services: ['sparkjava'] },
  'sparkjava-mysql': { cartridges: ['mariadb-10.11'], services: ['backend'] },
  'spring-postgres': { cartridges: ['postgresql-17'], services: ['backend'] },
  'traefik-golang': { blockers: ['/services/frontend/volumes/0'] },
  vuejs: { cartridges: [], services: ['web'] },
  'wasmedge-kafka-mysql': { blockers: ['/services/redpanda/volumes/0'] },
  'wasmedge-mysql-nginx': { blockers: ['/services/frontend/volumes/0'] },
  wireguard: { blockers: ['/services/wireguard/volumes/0', '/services/wireguard/volumes/1', '/services/wireguard/volumes/2'] },
  'wordpress-mysql': { cartridges: ['docker-image', 'mariadb-10.11'], services: [] },
};

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
    assert.deepEqual(r.cartridges, [
      { name: 'static', aliases: ['web'] },
      { name: 'postgresql-15', aliases: ['db'] },
      { name: 'redis-7', aliases: ['cache'] },
    ]);
    assert.deepEqual(r.services.find((s) => s.service === 'web')?.dependsOn, [{ service: 'db', condition: 'service_healthy' }]);
    assert.deepEqual(r.services.find((s) => s.service === 'db')?.healthcheck, ['pg_isready']);
    assert.equal(r.services.find((s) => s.service === 'db')?.env.POSTGRES_PASSWORD, 'secret');
    assert.deepEqual(r.unsupported, [
      { pointer: '/services/cache/container_name', reason: 'Gearshift names containers itself (by app, domain, cartridge and gear)' },
    ]);
  });

  it('honours YAML merge keys and each healthcheck form as Compose runs them', () => {
    const r = importCompose(`
x-db: &db
  image: postgres:15
  environment: { POSTGRES_PASSWORD: pw }
services:
  web:
    image: nginx:1.25
    healthcheck: { test: [CMD-SHELL, "curl -f http://localhost/ || exit 1"] }
  db:
    <<: *db
    healthcheck: { test: [NONE] }
  cache:
    image: redis:7
    healthcheck: { test: "redis-cli ping" }
`);
    assert.deepEqual(r.blockers, []);
    assert.deepEqual(r.unsupported, []);
    assert.deepEqual(r.cartridges, [
      { name: 'static', aliases: ['web'] },
      { name: 'postgresql-15', aliases: ['db'] },
      { name: 'redis-7', aliases: ['cache'] },
    ]);
    assert.deepEqual(r.services.find((s) => s.service === 'web')?.healthcheck, ['sh', '-c', 'curl -f http://localhost/ || exit 1']);
    assert.equal(r.services.find((s) => s.service === 'db')?.healthcheck, undefined);
    assert.equal(r.services.find((s) => s.service === 'db')?.env.POSTGRES_PASSWORD, 'pw');
    assert.deepEqual(r.services.find((s) => s.service === 'cache')?.healthcheck, ['sh', '-c', 'redis-cli ping']);
  });

  it('runs entrypoint and working_dir as docker compose does, for built and image services, and names the field and rule of a bad value', () => {
    const r = importCompose(
      [
        'services:',
        '  web:',
        '    build: .',
        '    ports: ["8080:8080"]',
        '    entrypoint: node --enable-source-maps',
        '    command: ["server.js"]',
        '    working_dir: /srv/app',
        '  jobs:',
        '    image: team/jobs:1',
        '    entrypoint: ["/bin/sh", "-c"]',
        '    command: "\'echo \\"a b\\"; sleep 60\'"',
        '  plain:',
        '    image: team/plain:1',
        '    entrypoint: ""',
      ].join('\n'),
    );
    assert.deepEqual(r.blockers, []);
    assert.ok(!r.unsupported.some((u) => /entrypoint|working_dir/.test(u.pointer)), JSON.stringify(r.unsupported));
    const s = r.appServices!;
    assert.deepEqual([s.web.entrypoint, s.web.command, s.web.workingDir], [['node', '--enable-source-maps'], ['server.js'], '/srv/app']);
    assert.deepEqual([s.jobs.entrypoint, s.jobs.command, s.jobs.workingDir], [['/bin/sh', '-c'], ['echo "a b"; sleep 60'], undefined]);
    // An empty entrypoint runs the image with none, as in Docker.
    assert.deepEqual(s.plain.entrypoint, []);

    // One image alone would be the docker-image web gear, which runs its image's ENTRYPOINT: it becomes a service.
    const alone = importCompose('services:\n  app:\n    image: team/app:1\n    ports: ["8080:8080"]\n    working_dir: /app\n');
    assert.deepEqual(alone.cartridges, []);
    assert.equal(alone.appServices!.app.workingDir, '/app');

    const bad = importCompose(
      'services:\n  a:\n    image: x:1\n    ports: ["80:80"]\n    entrypoint: { sh: 1 }\n    working_dir: app\n  b:\n    image: y:1\n    entrypoint: "sh -c \'echo"\n    working_dir: 3\n',
    );
    assert.deepEqual(
      bad.blockers.map((b) => [b.pointer, b.rule]),
      [
        ['/services/a/entrypoint', 'entrypoint'],
        ['/services/a/working_dir', 'working-dir'],
        ['/services/b/entrypoint', 'entrypoint'],
        ['/services/b/working_dir', 'working-dir'],
      ],
    );
    assert.match(bad.blockers[0].reason, /must be a command line \(a string\) or a list of strings/);
    assert.match(bad.blockers[1].reason, /must be an absolute path in the container \(such as \/app\).*not "app"/);
    assert.match(bad.blockers[2].reason, /quote left open/);
  });

  it('splits a command line into words as docker compose does, quotes keeping blanks', () => {
    assert.deepEqual(splitWords(`  node  -e "console.log('a b')" 'x y' a\\ b ""`), ['node', '-e', "console.log('a b')", 'x y', 'a b', '']);
    assert.equal(splitWords('echo "open'), null);
    assert.deepEqual(splitWords(''), []);
  });

  it('refuses host bind mounts and the Docker socket for everyone, administrators too, each with its rule', () => {
    const text = 'services:\n  web:\n    image: nginx\n    volumes: ["./site:/usr/share/nginx/html", "/var/run/docker.sock:/var/run/docker.sock"]\n';
    assert.deepEqual(
      importCompose(text).blockers.map((b) => [b.pointer, b.rule]),
      [
        ['/services/web/volumes/0', 'host-paths'],
        ['/services/web/volumes/1', 'docker-socket'],
      ],
    );
    assert.match(
      importCompose(text).blockers[0].reason,
      /gears never mount the node's paths: keep the data in a named volume \(NAME:\/usr\/share\/nginx\/html\)/,
    );
  });

  it('says one note per setting it ignores or changes, naming the service, the key and what is done instead', () => {
    const r = importCompose(
      [
        'services:',
        '  web:',
        '    image: team/web:1',
        '    ports: ["80:8080"]',
        '  agent:',
        '    image: team/agent:1',
        '    privileged: true',
        '    network_mode: host',
        '    pid: host',
        '    cap_add: [SYS_ADMIN]',
        '    devices: ["/dev/fuse"]',
        '    user: root',
        '    deploy: { replicas: 3, resources: { limits: { memory: 1g } } }',
      ].join('\n'),
    );
    assert.deepEqual(r.blockers, []);
    assert.equal(r.appServices?.agent.scale, 3);
    assert.equal(r.appServices?.web.scale, undefined);
    assert.deepEqual(
      composeNotes(r).filter((n) => n.startsWith('services/agent/')),
      [
        'services/agent/privileged: ignored: gears never run privileged',
        "services/agent/network_mode: ignored: gears always run on their app's own network, never the node's",
        "services/agent/pid: ignored: gears always have process namespaces of their own, never the node's",
        'services/agent/cap_add: ignored: gears run with every kernel capability dropped; none is added',
        "services/agent/devices: ignored: gears are given none of the node's devices",
        'services/agent/user: ignored: gears run as the user their image or cartridge names; no other user is taken',
        "services/agent/deploy/resources: ignored: the gear size sets a gear's memory and CPU",
      ],
    );
  });

  it('refuses replicas beyond what a service runs, naming the field and the rule, as a scale is refused', () => {
    const many = importCompose(
      'services:\n  web:\n    image: team/web:1\n    ports: ["80:8080"]\n  worker:\n    image: team/w:1\n    deploy: { replicas: 100000 }\n',
    );
    assert.equal(many.cartridges, null);
    assert.deepEqual(many.blockers, [
      { pointer: '/services/worker/deploy/replicas', rule: 'scaling', reason: 'asks for 100000 gears; a service scales from 0 to 100 gears' },
    ]);
    assert.deepEqual(importCompose('services:\n  w:\n    image: team/w:1\n    deploy: { replicas: -1 }\n').blockers[0].rule, 'scaling');
    // The one image of an app is its web gear: its replicas are the app's scale, which the broker holds to the limits
    // of the docker-image cartridge; a catalogue service's count is its cartridge's, and that is said.
    const web = importCompose(
      'services:\n  web:\n    image: team/web:1\n    deploy: { replicas: 4 }\n  db:\n    image: postgres:17\n    deploy: { replicas: 2 }\n',
    );
    assert.deepEqual(composeDescriptor('shop', web), {
      name: 'shop',
      cartridges: [
        { name: 'docker-image', image: 'team/web:1', aliases: ['web'] },
        { name: 'postgresql-17', aliases: ['db'] },
      ],
      scale: 4,
    });
    // A refusal of that scale names the field it came from.
    assert.equal(web.scaleFrom, '/services/web/deploy/replicas');
    assert.deepEqual(
      web.unsupported.map((u) => u.pointer),
      ['/services/db/deploy/replicas'],
    );
  });

  it('says every problem of a file at once, each with its field and rule', () => {
    const r = importCompose(
      [
        'services:',
        '  agent:',
        '    image: team/agent:1',
        '    volumes: ["/var/run/docker.sock:/var/run/docker.sock", "/srv/data:/data"]',
        '  jobs:',
        '    image: team/jobs:1',
        '    deploy: { replicas: 500 }',
      ].join('\n'),
    );
    assert.equal(r.cartridges, null);
    assert.deepEqual(
      r.blockers.map((b) => [b.pointer, b.rule]),
      [
        ['/services/agent/volumes/0', 'docker-socket'],
        ['/services/agent/volumes/1', 'host-paths'],
        ['/services/jobs/deploy/replicas', 'scaling'],
        ['/services', 'web-service'],
      ],
    );
  });

  it('says what a build needs, and makes every build and several images services of the app', () => {
    const r = importCompose('services:\n  api:\n    build: { context: backend, target: dev }\n    ports: [3000]\n');
    assert.match(r.services[0].notes[0], /built from the context backend, target dev: that folder must be uploaded/);
    assert.deepEqual(r.blockers, []);
    assert.deepEqual(r.cartridges, []);
    assert.deepEqual(r.appServices, { api: { kind: 'web', build: { context: './backend', target: 'dev' }, port: 3000 } });
    const two = importCompose(
      'services:\n  a:\n    image: team/a:1\n    expose: [9000]\n  b:\n    image: team/b:1\n    ports: ["80:8080"]\n  c_1:\n    image: team/c:1\n',
    );
    assert.deepEqual(two.blockers, []);
    assert.deepEqual(two.appServices, {
      a: { kind: 'internal', image: 'team/a:1', port: 9000 },
      b: { kind: 'web', image: 'team/b:1', port: 8080 },
      'c-1': { kind: 'worker', image: 'team/c:1' },
    });
  });

  it('refuses a build path from the root of the machine, naming the field, and still refuses one that leaves the repository', () => {
    const r = importCompose('services:\n  web:\n    build: /etc\n    ports: ["80:80"]\n  api:\n    build: { context: /srv/api }\n');
    assert.deepEqual(r.blockers, [
      {
        pointer: '/services/web/build',
        rule: 'relative-path',
        reason: 'is an absolute path (/etc): build paths are relative to the repository, such as ./web',
      },
      {
        pointer: '/services/api/build/context',
        rule: 'relative-path',
        reason: 'is an absolute path (/srv/api): build paths are relative to the repository, such as ./api',
      },
    ]);
    assert.equal(r.appServices, null);
    const up = importCompose('services:\n  web:\n    build: ../elsewhere\n    ports: ["80:80"]\n');
    assert.deepEqual(up.blockers, [
      { pointer: '/services/web/build', reason: '../elsewhere is not a folder of the repository: give a relative path such as ./web' },
    ]);
  });

  it("reads a lone path as each gear's own anonymous volume, says so, and drops development source mounts of a built service", () => {
    const r = importCompose(
      'services:\n  web:\n    build: ./web\n    ports: ["3000:3000"]\n    volumes: ["./web/src:/code/src", "/code/node_modules", { type: volume, target: /cache }, "data:/data"]\nvolumes: { data: {} }\n',
    );
    assert.deepEqual(r.blockers, []);
    // No name: not one volume shared by every gear and kept across releases (which would hide a new release's
    // node_modules behind the first one's), but each gear's own, made from its image, as Docker does.
    assert.deepEqual(r.appServices?.web.volumes, [{ path: '/code/node_modules' }, { path: '/cache' }, { name: 'data', path: '/data' }]);
    assert.match(
      r.services[0].notes.join('\n'),
      /the anonymous volume \/code\/node_modules is each gear's own, as in Docker: made from its image's content there and removed with the gear/,
    );
    // The same for the one image of an app, its docker-image web gear.
    const image = importCompose('services:\n  web:\n    image: team/web:1\n    volumes: ["/app/node_modules"]\n');
    assert.deepEqual((image.cartridges?.[0] as { volumes?: unknown }).volumes, [{ path: '/app/node_modules' }]);
    assert.match(r.services[0].notes.join(' '), /drops the bind mount \.\/web\/src:\/code\/src, used in development: the code is baked into the image/);
    // A configuration file mounted into an image is not code built into it: still a host path.
    const config = importCompose('services:\n  web:\n    image: team/web:1\n    volumes: ["./web.conf:/etc/web.conf"]\n');
    assert.deepEqual(
      config.blockers.map((b) => b.pointer),
      ['/services/web/volumes/0'],
    );
  });

  it('starts services after what they depend on, waiting for catalogue services by their cartridge, and refuses a circle', () => {
    const r = importCompose(
      'services:\n  web:\n    build: .\n    ports: ["80:80"]\n    depends_on: [api, db]\n  api:\n    build: ./api\n    expose: [9000]\n    depends_on: { db: { condition: service_healthy } }\n  db:\n    image: postgres:17\n',
    );
    assert.deepEqual(Object.keys(r.appServices!), ['api', 'web']);
    assert.deepEqual(r.appServices!.web.dependsOn, ['api', 'postgresql-17']);
    const circle = importCompose('services:\n  a:\n    build: ./a\n    ports: ["80:80"]\n    depends_on: [b]\n  b:\n    build: ./b\n    depends_on: [a]\n');
    assert.equal(circle.cartridges, null);
    assert.deepEqual(
      circle.blockers.map((b) => `${b.pointer}: ${b.reason}`),
      ['/services/a/dependsOn: the services wait for each other in a circle: a → b → a'],
    );
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
      {
        name: 'docker-image',
        image: 'registry.example:5000/team/api:1.2',
        port: 3000,
        env: { GREETING: 'hi' },
        volumes: [{ name: 'uploads', path: '/srv/uploads' }],
        aliases: ['web'],
      },
      { name: 'postgresql-15', aliases: ['db'] },
    ]);
    assert.match(r.services.find((s) => s.service === 'proxy')!.notes.join(' '), /dropped: web is the web gear/);
  });

  it('keeps the name of each service that became a cartridge on the app network, and says which became which and at what version', () => {
    const r = importCompose(
      [
        'services:',
        '  web:',
        '    build: .',
        '    ports: ["80:3000"]',
        '    environment: { DB_HOST: postgres, CACHE: "redis:6379" }',
        '    depends_on: [postgres, redis]',
        '  postgres: { image: "postgres:16" }',
        '  redis: { image: "redis:7" }',
        '  postgresql-17: { image: "postgres:17" }',
        '  Bad_Name: { image: "mariadb:11" }',
        '',
      ].join('\n'),
    );
    assert.deepEqual(r.blockers, []);
    // As docker compose resolves them: the web service's environment, written for those names, works unchanged.
    assert.deepEqual(r.cartridges, [{ name: 'postgresql-17', aliases: ['postgres'] }, { name: 'redis-7', aliases: ['redis'] }, 'mariadb-11.8']);
    assert.deepEqual(r.appServices?.web.env, { DB_HOST: 'postgres', CACHE: 'redis:6379' });
    const notes = composeNotes(r);
    assert.ok(notes.includes("services/postgres: is reached as postgres on the app's network, as in the file (and as postgresql-17)"), notes.join('\n'));
    assert.ok(notes.includes("services/redis: is reached as redis on the app's network, as in the file (and as redis-7)"), notes.join('\n'));
    // PostgreSQL 16 is not in the catalogue: that it runs on 17 is said, with what it means for its data.
    assert.ok(
      notes.includes(
        'services/postgres: postgres:16 asks for version 16, which the catalogue does not have: it runs postgresql-17, the nearest newer one (a data directory made by PostgreSQL 16 does not open in it: move data with a dump and restore)',
      ),
      notes.join('\n'),
    );
    assert.ok(!notes.some((n) => n.startsWith('services/redis: redis:7 asks for')), 'redis:7 runs as asked');
    assert.ok(!notes.some((n) => n.startsWith('services/postgresql-17: postgres:17 asks for')), 'postgres:17 runs as asked');
    assert.ok(
      notes.includes("services/Bad_Name: is reached as mariadb-11.8 on the app's network, not as Bad_Name: that name is not a DNS label"),
      notes.join('\n'),
    );
    // The imported descriptor is valid as it stands, aliases and all.
    assert.doesNotThrow(() => parseDescriptor(JSON.stringify(composeDescriptor('shop', r)), 'the compose file'));
  });

  it('never throws, even on nonsense', () => {
    for (const text of ['', 'services: 3', '[1, 2]', 'services:\n  x: nope\n', ': : :']) {
      const r = importCompose(text);
      assert.ok(r.blockers.length > 0, text);
    }
  });

  for (const [label, dir] of CORPORA) {
    it(`plans or explains every file of ${label}, leaving no key unaccounted for`, () => {
      const { planned, explained, plans } = walkCorpus(dir);
      if (dir === OWN_CORPUS) assert.deepEqual([planned, explained], [10, 2]);
      else {
        assert.equal(planned + explained, 39);
        // Samples that stopped only on a build context, several containers of their own, or an anonymous volume
        // (`- /project/node_modules`) read as a host path, beside a development source mount: they plan now.
        for (const sample of ['angular', 'fastapi', 'nginx-nodejs-redis', 'react-express-mongodb', 'react-express-mysql', 'react-java-mysql', 'vuejs'])
          assert.ok(plans.includes(sample), `${sample} plans an app`);
      }
      console.log(`# ${label}: ${planned} file(s) plan an app that runs here, ${explained} explain what stops them`);
    });
  }

  if (existsSync(OUTSIDE_CORPUS))
    it('imports each file of the awesome-compose corpus as expected: its plan, or the fields that stop it', () => {
      const samples = readdirSync(OUTSIDE_CORPUS)
        .filter((s) => COMPOSE_FILES.some((f) => existsSync(join(OUTSIDE_CORPUS, s, f))))
        .sort();
      assert.deepEqual(samples, Object.keys(OUTSIDE_EXPECTED).sort(), 'every sample has its expectation, and only samples do');
      for (const sample of samples) {
        const r = importSample(join(OUTSIDE_CORPUS, sample));
        const got = r.cartridges
          ? { cartridges: r.cartridges.map(entryName), services: Object.keys(r.appServices ?? {}) }
          : { blockers: r.blockers.map((b) => b.pointer) };
        assert.deepEqual(got, OUTSIDE_EXPECTED[sample], `${sample}: ${JSON.stringify(r.blockers)}`);
      }
    });

  it('imports each file of its own corpus exactly as expected', () => {
    const samples = readdirSync(OWN_CORPUS).sort();
    assert.deepEqual(samples, Object.keys(EXPECTED).sort(), 'every fixture has its expectation, and only fixtures do');
    for (const sample of samples) {
      const want = EXPECTED[sample];
      const r = importSample(join(OWN_CORPUS, sample));
      assert.deepEqual(r.cartridges, want.cartridges, `${sample}: cartridges`);
      assert.deepEqual(r.appServices, want.appServices ?? null, `${sample}: services of the app`);
      assert.deepEqual(r.blockers, want.blockers ?? [], `${sample}: blockers`);
      assert.deepEqual(r.unsupported, want.unsupported ?? [], `${sample}: unsupported`);
      assert.deepEqual(r.warnings, want.warnings ?? [], `${sample}: warnings`);
      assert.deepEqual(r.volumes, want.volumes ?? [], `${sample}: volumes`);
      assert.deepEqual(
        r.services.map((s) => s.service),
        Object.keys(want.services),
        `${sample}: services`,
      );
      for (const [name, fields] of Object.entries(want.services)) {
        const plan = r.services.find((s) => s.service === name)!;
        const got = Object.fromEntries(Object.keys(fields).map((k) => [k, plan[k as keyof ServicePlan]]));
        assert.deepEqual(got, fields, `${sample}/${name}`);
      }
    }
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
    const ok = importCompose(
      'services:\n  db:\n    image: docker.io/library/postgres:15@sha256:' + 'a'.repeat(64) + '\n  web:\n    image: registry:5000/team/api:1.2\n',
    );
    assert.deepEqual(ok.blockers, []);
    assert.deepEqual(
      ok.services.map((s) => s.becomes),
      [
        { kind: 'cartridge', cartridge: 'postgresql-15' },
        { kind: 'container', image: 'registry:5000/team/api:1.2' },
      ],
    );
  });

  it('maps each image version to the catalogue cartridge that runs it: the same major, else the next, else the current one', () => {
    const cases: [string, string | undefined][] = [
      ['postgres:17', 'postgresql-17'],
      ['postgres:17.2-alpine', 'postgresql-17'],
      ['postgres:16', 'postgresql-17'],
      ['postgres:15-alpine', 'postgresql-15'],
      ['postgres:13', 'postgresql-15'],
      ['postgres', 'postgresql-17'],
      ['postgres:alpine', 'postgresql-17'],
      ['postgres:18', 'postgresql-17'],
      ['docker.io/library/postgres:15@sha256:' + 'a'.repeat(64), 'postgresql-15'],
      ['mariadb:11', 'mariadb-11.8'],
      ['mariadb:11.8.2', 'mariadb-11.8'],
      ['mariadb:10.11', 'mariadb-10.11'],
      ['mariadb:10.6', 'mariadb-10.11'],
      ['mariadb:11.4', 'mariadb-11.8'],
      ['mysql:8.0', 'mariadb-11.8'],
      ['valkey/valkey:8', 'valkey-8'],
      ['valkey/valkey:8.1-alpine', 'valkey-8'],
      ['redis:7', 'redis-7'],
      ['redis:7.2-alpine', 'redis-7'],
      ['redis:8', 'valkey-8'],
      ['redis:8.0.2', 'valkey-8'],
      ['redis', 'valkey-8'],
      ['node:22', 'nodejs-22'],
      ['node:24-slim', 'nodejs-24'],
      ['node:20-alpine', 'nodejs-22'],
      ['node:18', 'nodejs-18'],
      ['node:lts', 'nodejs-24'],
      ['python:3.13', 'python-3.13'],
      ['python:3.13.5-slim', 'python-3.13'],
      ['python:3.12', 'python-3.13'],
      ['python:3.11', 'python-3.11'],
      ['php:8.4-apache', 'php-8.4'],
      ['php:8.3-fpm', 'php-8.4'],
      ['php:8.2', 'php-8.2'],
      ['ruby:3.3', 'ruby-3.3'],
      ['eclipse-temurin:21-jre', 'openjdk-21'],
      ['nginx:1.27-alpine', 'static'],
      ['ghcr.io/acme/api:1.2', undefined],
    ];
    assert.deepEqual(
      cases.map(([image]) => [image, cartridgeForImage(image)]),
      cases,
    );
  });

  it('maps only to cartridges the catalogue has', () => {
    const catalogue = new Set(readdirSync(resolve(__dirname, '../../../../cartridges')));
    for (const [repo, f] of Object.entries(COMPOSE_IMAGE_FAMILIES)) {
      for (const v of [...f.versions, f.current]) {
        const name = v.includes('-') ? v : `${f.family}-${v}`;
        assert.ok(catalogue.has(name), `${repo} maps to ${name}, which is not in the catalogue`);
      }
    }
  });

  it("makes a runtime image the app's web cartridge, built from the code deployed to it", () => {
    const r = importCompose(
      'services:\n  api:\n    image: node:24\n    command: node server.js\n  db:\n    image: postgres:17\n  cache:\n    image: valkey/valkey:8\n',
    );
    assert.deepEqual(r.blockers, []);
    assert.deepEqual(r.cartridges, [
      { name: 'nodejs-24', aliases: ['api'] },
      { name: 'postgresql-17', aliases: ['db'] },
      { name: 'valkey-8', aliases: ['cache'] },
    ]);
    assert.match(r.services[0].notes.join(' '), /node:24 becomes the nodejs-24 cartridge, the app's web gear: its code comes with gearshift deploy/);
    const two = importCompose('services:\n  api:\n    image: python:3.13\n  admin:\n    image: php:8.4\n');
    assert.equal(two.cartridges, null);
    assert.match(two.blockers[0].reason, /api, admin would each be the app's web gear/);
  });
});

describe("a service's healthcheck and restart policy", () => {
  const compose = (api: string, jobs = '') => `services:\n  api:\n    build: ./api\n    ports: ["80:8000"]\n${api}  jobs:\n    build: ./jobs\n${jobs}`;

  it('turns a curl or wget of localhost on the service port into its health check', () => {
    const r = importCompose(compose('    healthcheck:\n      test: ["CMD-SHELL", "curl -fsS http://localhost:8000/health || exit 1"]\n'));
    assert.deepEqual(r.appServices?.api.health, { path: '/health' });
    assert.ok(
      r.services[0].notes.some((n) => /healthcheck becomes the service's health check: GET \/health on port 8000/.test(n)),
      r.services[0].notes.join('\n'),
    );
    const wget = importCompose(compose('    healthcheck:\n      test: wget -qO- http://127.0.0.1:8000/ready\n'));
    assert.deepEqual(wget.appServices?.api.health, { path: '/ready' });
  });

  it('says when a healthcheck is dropped: another command, another port, or a worker', () => {
    const other = importCompose(compose('    healthcheck:\n      test: ["CMD", "node", "check.js"]\n', '    healthcheck:\n      test: ["CMD", "true"]\n'));
    assert.equal(other.appServices?.api.health, undefined);
    assert.ok(
      other.services[0].notes.some((n) => /its healthcheck \(node check\.js\) is dropped/.test(n)),
      other.services[0].notes.join('\n'),
    );
    assert.ok(other.services[1].notes.includes('its healthcheck is dropped: a worker is healthy once it keeps running'), other.services[1].notes.join('\n'));
    const port = importCompose(compose('    healthcheck:\n      test: curl -f http://localhost:9000/health\n'));
    assert.equal(port.appServices?.api.health, undefined);
  });

  it('says when restart: is dropped, and not when it is what every gear does', () => {
    const r = importCompose(compose('    restart: unless-stopped\n', '    restart: "no"\n'));
    assert.ok(!r.services[0].notes.some((n) => /restart/.test(n)));
    assert.ok(
      r.services[1].notes.some((n) => /^restart: no is dropped: Gearshift restarts every gear that exits/.test(n)),
      r.services[1].notes.join('\n'),
    );
  });
});
