import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, type Platform } from './support/platform';
import { devPushes } from './support/dev-pushes';

/**
 * Apps written for docker compose, of services built from the repository's own Dockerfile and no web cartridge. Their
 * Dockerfile is offered the image of the runtime their files call for and the node's CA certificates, as build
 * arguments it declares; a FROM the node cannot pull fails the build saying why and what to build from instead.
 */

describe('compose apps built from their own Dockerfile', { timeout: 900_000 }, () => {
  const dev = devPushes('compose-df');
  const { repo, push, createEmpty } = dev;
  let p: Platform;
  before(() => {
    p = dev.p();
  });

  it("builds FROM the runtime its package.json calls for and installs npm packages trusting the node's CAs", async () => {
    await createEmpty('shop');
    const dir = repo({
      'docker-compose.yml': 'services:\n  web:\n    build: .\n    ports: ["8080:8080"]\n',
      // Under docker compose the defaults apply: node:24 and no extra CA.
      Dockerfile: [
        'ARG GEARSHIFT_CARTRIDGE_IMAGE=node:24',
        'FROM ${GEARSHIFT_CARTRIDGE_IMAGE}',
        'ARG GEARSHIFT_CA_FILE',
        'USER root',
        'WORKDIR /srv/shop',
        // Empty under docker compose: the package file alone is copied.
        'COPY package.json ${GEARSHIFT_CA_FILE} ./',
        'RUN if [ -n "$GEARSHIFT_CA_FILE" ]; then export npm_config_cafile="$PWD/$GEARSHIFT_CA_FILE" NODE_EXTRA_CA_CERTS="$PWD/$GEARSHIFT_CA_FILE"; fi; ' +
          'npm install --no-audit --no-fund && head -c 27 "$GEARSHIFT_CA_FILE" > ca-head.txt',
        'COPY server.js ./',
        'USER gear',
        'CMD ["node", "server.js"]',
        '',
      ].join('\n'),
      'package.json': JSON.stringify({ name: 'shop', version: '1.0.0', dependencies: { 'left-pad': '1.3.0' } }),
      'server.js':
        "const head = require('fs').readFileSync('ca-head.txt', 'utf8');\n" +
        "require('http').createServer((req, res) => res.end(`${require('left-pad')('x', 3)} ${head}`)).listen(8080);\n",
    });
    const pushed = await push(dir, 'shop');
    assert.ok(pushed.ok, pushed.output);
    assert.match(pushed.output, /its package\.json calls for Node\.js: ARG GEARSHIFT_CARTRIDGE_IMAGE names the nodejs-\d+ image/);
    assert.match(
      pushed.output,
      /may build FROM the images this node gives it, each to a Dockerfile that declares its ARG: ARG GEARSHIFT_CARTRIDGE_IMAGE \(the nodejs-\d+ cartridge's image/,
    );
    assert.match(pushed.output, /the node's CA certificates are gearshift-ca\.crt in the build context \(ARG GEARSHIFT_CA_FILE\)/);
    await eventually(
      'the router to serve the app built from its Dockerfile',
      async () => {
        const res = await p.viaRouter('shop-dev.localhost', '/').catch(() => null);
        return res?.status === 200 && res.body === '  x -----BEGIN CERTIFICATE-----' && res;
      },
      60_000,
      250,
    );
  });

  it("runs a service's entrypoint with its command as arguments, in its working directory, as docker compose does", async () => {
    await createEmpty('entry');
    const dir = repo({
      'docker-compose.yml': [
        'services:',
        '  web:',
        '    build: .',
        '    ports: ["8080:8080"]',
        '    entrypoint: node',
        '    command: ["server.js", "from the command"]',
        '    working_dir: /srv/app',
        '',
      ].join('\n'),
      // The image's own entrypoint and directory would not start the app: only the file's do.
      Dockerfile: [
        'ARG GEARSHIFT_CARTRIDGE_IMAGE',
        'FROM ${GEARSHIFT_CARTRIDGE_IMAGE}',
        'COPY server.js /srv/app/server.js',
        'WORKDIR /',
        'ENTRYPOINT ["node", "-e", "process.exit(3)"]',
        '',
      ].join('\n'),
      'package.json': JSON.stringify({ name: 'entry', version: '1.0.0' }),
      'server.js': "require('http').createServer((req, res) => res.end(`${process.cwd()} ${process.argv.slice(2).join(' ')}`)).listen(8080);\n",
    });
    const pushed = await push(dir, 'entry');
    assert.ok(pushed.ok, pushed.output);
    assert.doesNotMatch(pushed.output, /entrypoint: ignored|working_dir: ignored/);
    const res = await p.answers('entry-dev.localhost', '/srv/app from the command');
    assert.equal(res.status, 200);
  });

  it("says in each service's build output its own start command, a worker's not the web service's", async () => {
    await createEmpty('pair');
    const dir = repo({
      'docker-compose.yml': ['services:', '  web:', '    build: .', '    ports: ["8080:8080"]', '  w:', '    build: .', '    command: node worker.js', ''].join(
        '\n',
      ),
      Procfile: 'web: node server.js\n',
      'package.json': JSON.stringify({ name: 'pair', version: '1.0.0' }),
      'server.js': "require('http').createServer((req, res) => res.end('pair web')).listen(Number(process.env.PORT));\n",
      'worker.js': 'setInterval(() => undefined, 1000);\n',
    });
    const pushed = await push(dir, 'pair');
    assert.ok(pushed.ok, pushed.output);
    assert.match(pushed.output, /web \| start command: node server\.js \(the Procfile's web process\)/);
    assert.match(pushed.output, /w \| start command: node worker\.js \(service w's own command, in place of what its image starts\)/);
    assert.doesNotMatch(pushed.output, /w \| start command: node server\.js/);
    await p.answers('pair-dev.localhost', 'pair web');
  });

  it('fails a build FROM an image the node cannot pull, saying why and what it may build from instead', async () => {
    await createEmpty('away');
    const dir = repo({
      'docker-compose.yml': 'services:\n  web:\n    build: .\n    ports: ["8080:8080"]\n',
      Dockerfile: 'FROM registry.invalid/library/node:24\nCMD ["node", "-e", "1"]\n',
      'package.json': JSON.stringify({ name: 'away', version: '1.0.0' }),
    });
    const pushed = await push(dir, 'away');
    assert.ok(!pushed.ok, pushed.output);
    assert.match(
      pushed.output,
      /not on this node, so pulled from their registries when the build reaches them: registry\.invalid\/library\/node:24 \(line 1\)/,
    );
    assert.match(
      pushed.output,
      /FROM registry\.invalid\/library\/node:24 \(Dockerfile line 1\) is not on this node and could not be pulled from its registry: build FROM \$\{GEARSHIFT_CARTRIDGE_IMAGE\}/,
    );
  });
});
