import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, type Platform } from './support/platform';
import { devPushes } from './support/dev-pushes';
import { git } from './support/git';

/**
 * Apps created empty (`"cartridges": []`) and shaped by their first push: a compose file in a repository without a
 * gearshift.yml gives the app its catalogue services and web cartridge, then the code is built on it; an app that
 * already has cartridges keeps them. A gearshift.yml or compose file whose services are built from folders the source
 * does not have is refused, naming the field, and the push deploys nothing (services-run.test.ts runs them).
 */

describe('apps shaped by their first push', { timeout: 900_000 }, () => {
  const dev = devPushes('services');
  const { repo, push, createEmpty } = dev;
  let p: Platform;
  before(() => {
    p = dev.p();
  });

  it("gives an empty app the shape of its repository's compose file, then serves the pushed code", async () => {
    await createEmpty('site');
    const dir = repo({
      'compose.yaml': 'services:\n  web:\n    image: nginx:1.27\n    ports: ["8080:80"]\n  cache:\n    image: redis:7\n    privileged: true\n    user: root\n',
      'index.html': '<h1>shaped by compose</h1>\n',
    });
    const pushed = await push(dir, 'site');
    assert.ok(pushed.ok, pushed.output);
    assert.match(pushed.output, /applying compose\.yaml/);
    assert.match(pushed.output, /add cartridge static/);
    // What the file asks for and Gearshift does not do is said, one line each, naming the service and the key.
    assert.match(pushed.output, /note: services\/cache\/privileged: ignored: gears never run privileged/);
    assert.match(pushed.output, /note: services\/cache\/user: ignored: gears run as the user their image or cartridge names/);
    const app = (await p.api('GET', '/domains/dev/apps/site')).body;
    assert.deepEqual([...app.cartridges].sort(), ['redis-7', 'static']);
    await eventually(
      'the router to serve the pushed page',
      async () => {
        const res = await p.viaRouter('site-dev.localhost', '/').catch(() => null);
        return res?.body.includes('shaped by compose') && res;
      },
      60_000,
      250,
    );

    // Once it has cartridges, a compose file beside the code changes nothing: it may be for development only.
    writeFileSync(join(dir, 'compose.yaml'), 'services:\n  web:\n    image: nginx:1.27\n  db:\n    image: postgres:16\n');
    writeFileSync(join(dir, 'index.html'), '<h1>second release</h1>\n');
    git(dir, 'commit', '-qam', 'second');
    const second = await push(dir, 'site');
    assert.ok(second.ok, second.output);
    assert.doesNotMatch(second.output, /applying compose\.yaml/);
    assert.deepEqual([...(await p.api('GET', '/domains/dev/apps/site')).body.cartridges].sort(), ['redis-7', 'static']);
  });

  it('refuses a push whose gearshift.yml or compose file builds services from folders it lacks, naming the field, and deploys nothing', async () => {
    await createEmpty('multi');
    const described = repo({
      'gearshift.yml': 'name: multi\ncartridges: []\nservices:\n  api: { kind: web, build: ./api, port: 3000 }\n  jobs: { kind: worker, build: ./jobs }\n',
    });
    const refused = await push(described, 'multi');
    assert.equal(refused.ok, false, refused.output);
    assert.match(refused.output, /\/archive\/gearshift\.yml\/services\/api\/build \.\/api is not a folder of the source/);

    const composed = repo({
      'compose.yaml': 'services:\n  api:\n    build: ./api\n    ports: ["80:3000"]\n  worker:\n    build: ./worker\n    depends_on: [api]\n',
      'index.html': 'x',
    });
    const refusedCompose = await push(composed, 'multi');
    assert.equal(refusedCompose.ok, false, refusedCompose.output);
    assert.match(refusedCompose.output, /\/archive\/compose\.yaml\/services\/api\/build \.\/api is not a folder of the source/);
    assert.deepEqual((await p.api('GET', '/domains/dev/apps/multi/deployments')).body, []);
    assert.deepEqual((await p.api('GET', '/domains/dev/apps/multi')).body.cartridges, []);
  });
  it('makes nothing for a push whose gearshift.yml names another app', async () => {
    const dir = repo({ 'gearshift.yml': 'name: other\ncartridges: [static]\n', 'index.html': 'x' });
    const refused = await push(dir, 'multi');
    assert.equal(refused.ok, false, refused.output);
    assert.match(refused.output, /push rejected: gearshift\.yml was not applied: the file describes app "other", but it is applied to "multi"/);
    assert.equal((await p.api('GET', '/domains/dev/apps/other')).status, 404);
  });

  it('says what stops a compose file from running by its field, on an app that already has cartridges', async () => {
    const created = await p.api('POST', '/domains/dev/apps?wait=120', { name: 'corders', cartridges: ['redis-7'] });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const dir = repo({
      'compose.yaml': 'services:\n  api:\n    build: .\n    ports: ["80:3000"]\n  worker:\n    build: .\n    depends_on: [quueue]\n',
      'server.js': 'require("http").createServer((q, s) => s.end("ok")).listen(3000);\n',
    });
    const refused = await push(dir, 'corders');
    assert.equal(refused.ok, false, refused.output);
    assert.match(refused.output, /\/archive\/compose\.yaml\/services\/worker\/depends_on depends on quueue, which the file does not define/);
    assert.doesNotMatch(refused.output, /does not say which runtime/);
  });

  it("shows a services-only app's failed first deployment at its host name, as a cartridge app's", async () => {
    await createEmpty('broken');
    const dir = repo({
      'compose.yaml': 'services:\n  web:\n    build: ./web\n    ports: ["80:8080"]\n',
      'web/Dockerfile': 'ARG GEARSHIFT_BASE_IMAGE\nFROM ${GEARSHIFT_BASE_IMAGE}\nRUN echo the build breaks here; exit 3\n',
    });
    const pushed = await push(dir, 'broken');
    assert.equal(pushed.ok, false, pushed.output);
    assert.match(pushed.output, /the first deployment failed, so broken-dev is stopped: its URL says the deployment failed/);
    // The app says why it is stopped, on one line.
    const shown = (await p.api('GET', '/domains/dev/apps/broken')).body;
    assert.match(shown.stoppedBecause, /^its first deployment \(#1\) failed: .*web/);
    assert.doesNotMatch(shown.stoppedBecause, /\n/);
    // Not the router's "no app answers to this host name": the app's page says its deployment failed.
    await eventually(
      'the router to say the deployment failed',
      async () => {
        const x = await p.viaRouter('broken-dev.localhost', '/').catch(() => null);
        return x?.status === 503 && /deployment of broken failed/.test(x.body) && x;
      },
      20_000,
      200,
    );
  });

  it('says every problem of a compose file and its tree in one push, each with its field and rule, and the same to an administrator', async () => {
    await createEmpty('hostly');
    const dir = repo({
      'compose.yaml':
        'services:\n  agent:\n    image: team/agent:1\n    volumes: ["/var/run/docker.sock:/var/run/docker.sock", "/srv/data:/data"]\n  jobs:\n    image: team/jobs:1\n    deploy: { replicas: 100000 }\n',
    });
    // And a link out of the tree, which the source archive's own check refuses.
    symlinkSync('/etc/hostname', join(dir, 'hostname'));
    git(dir, 'add', '-A');
    git(dir, 'commit', '-qm', 'a link');
    // The platform's token is the administrator's: host paths are refused to them as to anyone, and said so.
    const refused = await push(dir, 'hostly');
    assert.equal(refused.ok, false, refused.output);
    for (const line of [
      /\/services\/agent\/volumes\/0 mounts the Docker socket, which would hand the node to the app; refused \(rule: docker-socket\)/,
      /\/services\/agent\/volumes\/1 bind-mounts \/srv\/data from the host; gears never mount the node's paths: keep the data in a named volume \(NAME:\/data\) \(rule: host-paths\)/,
      /\/services\/jobs\/deploy\/replicas asks for 100000 gears; a service scales from 0 to 100 gears \(rule: scaling\)/,
      /\/services no service becomes a web cartridge or a web service \(an app needs one\) \(rule: web-service\)/,
      /\/archive\/hostname symlink "hostname" points to the absolute path "\/etc\/hostname" \(rule: link-inside\)/,
    ])
      assert.match(refused.output, line);
    assert.doesNotMatch(refused.output, /only administrators/);
    assert.deepEqual((await p.api('GET', '/domains/dev/apps/hostly/deployments')).body, []);
  });

  it("reaches the compose file's postgres and redis by those names, and shows each release's own files in an anonymous volume", async () => {
    // A name on the app's network reaches one thing: an alias that is another cartridge's name is refused.
    const taken = await p.api('POST', '/domains/dev/apps', { name: 'taken', cartridges: [{ name: 'postgresql-17', aliases: ['redis-7'] }, 'redis-7'] });
    assert.equal(taken.status, 422, JSON.stringify(taken.body));
    assert.deepEqual(taken.body.details, [
      { pointer: '/cartridges/0/aliases/0', rule: 'unique', message: "redis-7 is already the name of the cartridge redis-7 on the app's network" },
    ]);
    await createEmpty('named');
    // A web service that answers with what it reaches by the names its environment gives, and what its image put at
    // the path the file keeps in an anonymous volume (as node_modules is kept in development).
    const server = [
      'use IO::Socket::INET;',
      'my $s = IO::Socket::INET->new(LocalPort => 8080, Listen => 16, ReuseAddr => 1) or die qq(listen: $!);',
      'while (my $c = $s->accept) {',
      '  while (my $l = <$c>) { last if $l =~ /^\\r?\\n$/; }',
      '  my @out;',
      '  for my $peer ("$ENV{DB_HOST}:5432", $ENV{CACHE}) {',
      '    my $t = IO::Socket::INET->new(PeerAddr => $peer, Timeout => 3);',
      '    push @out, $t ? "$peer connects" : "$peer fails: $@";',
      '    close $t if $t;',
      '  }',
      "  open(my $f, '<', '/app/node_modules/release.txt');",
      '  my $r = $f ? <$f> : "none\\n";',
      '  push @out, "modules $r";',
      '  my $body = join("\\n", @out);',
      '  print $c "HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: " . length($body) . "\\r\\nConnection: close\\r\\n\\r\\n$body";',
      '  close $c;',
      '}',
      '',
    ].join('\n');
    const dir = repo({
      'compose.yaml': [
        'services:',
        '  web:',
        '    build: .',
        '    ports: ["80:8080"]',
        '    environment: { DB_HOST: postgres, CACHE: "redis:6379" }',
        '    volumes: ["/app/node_modules"]',
        '    depends_on: [postgres, redis]',
        '  postgres: { image: "postgres:16" }',
        '  redis: { image: "redis:7" }',
        '',
      ].join('\n'),
      Dockerfile:
        'ARG GEARSHIFT_BASE_IMAGE\nFROM ${GEARSHIFT_BASE_IMAGE}\nCOPY . /app\nRUN mkdir -p /app/node_modules && cp /app/release.txt /app/node_modules/release.txt\nCMD ["perl", "/app/server.pl"]\n',
      'server.pl': server,
      'release.txt': 'one\n',
    });
    const first = await push(dir, 'named');
    assert.ok(first.ok, first.output);
    // As docker compose runs it: the names its environment gives reach the cartridges.
    const answer = (want: RegExp) =>
      eventually(
        `the web service to answer ${want}`,
        async () => {
          const res = await p.viaRouter('named-dev.localhost', '/').catch(() => null);
          return res && want.test(res.body) && res.body;
        },
        120_000,
        500,
      );
    await answer(/^postgres:5432 connects\nredis:6379 connects\nmodules one\n$/);
    // Which compose service became which cartridge, by which names it is reached, and at what version, is said.
    assert.match(first.output, /note: services\/postgres: is reached as postgres on the app's network, as in the file \(and as postgresql-17\)/);
    assert.match(first.output, /note: services\/redis: is reached as redis on the app's network, as in the file \(and as redis-7\)/);
    assert.match(first.output, /note: services\/postgres: postgres:16 asks for version 16, which the catalogue does not have: it runs postgresql-17/);
    assert.match(first.output, /note: services\/web: the anonymous volume \/app\/node_modules is each gear's own/);

    // The next release's image has new files there: its gears see them, not the first release's.
    writeFileSync(join(dir, 'release.txt'), 'two\n');
    git(dir, 'commit', '-qam', 'second release');
    const second = await push(dir, 'named');
    assert.ok(second.ok, second.output);
    await answer(/^postgres:5432 connects\nredis:6379 connects\nmodules two\n$/);
  });
});
