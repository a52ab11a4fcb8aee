import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, randomBytes } from 'node:crypto';
import type { GearSpec, NodeJobs } from './jobs';
import {
  EPHEMERAL_TTL_MS,
  SEALED_V1,
  SealError,
  isNodePublicKey,
  makeNodeKeyPair,
  openNodeJob,
  openRouteSecret,
  openWith,
  publicKeyOf,
  routeSealingKey,
  sealFor,
  sealNodeJob,
  sealRouteSecret,
} from './sealing';

const gear = (env: Record<string, string>): GearSpec => ({
  gearId: 'g1',
  appId: 'a1',
  app: 'shop',
  domain: 'acme',
  cartridge: 'nodejs-18',
  web: true,
  image: { ref: 'nginx' },
  containerName: 'c',
  network: 'n',
  hostname: 'g1',
  aliases: [],
  env,
  ports: [],
  volumes: [],
  resources: { memoryMb: 64, cpus: 0.1, pids: 64 },
  health: { kind: 'none', timeoutSeconds: 5 },
  running: true,
  generation: 0,
});

describe('values sealed for a node', () => {
  const node = makeNodeKeyPair();
  const other = makeNodeKeyPair();

  it('opens what was sealed for it, and only that, with a fresh ciphertext each time', () => {
    const sealed = sealFor(node.publicKey, 'hunter2 ünïcode');
    assert.ok(sealed.startsWith(SEALED_V1));
    assert.ok(!sealed.includes('hunter2'));
    assert.notEqual(sealFor(node.publicKey, 'hunter2 ünïcode'), sealed);
    assert.equal(openWith(node.privateKey, sealed), 'hunter2 ünïcode');
    assert.equal(openWith(node.privateKey, sealFor(node.publicKey, '')), '');
    assert.equal(publicKeyOf(node.privateKey), node.publicKey);
    assert.ok(isNodePublicKey(node.publicKey));
    assert.ok(!isNodePublicKey('not a key'));
  });

  it("refuses to open with another node's key", () => {
    assert.throws(
      () => openWith(other.privateKey, sealFor(node.publicKey, 'secret'), 'env X'),
      (err: Error) => {
        assert.ok(err instanceof SealError);
        assert.match(err.message, /^env X does not open with this node's key/);
        assert.ok(!err.message.includes('secret'));
        return true;
      },
    );
  });

  it('refuses a sealed value changed on the way: any byte of it', () => {
    const sealed = sealFor(node.publicKey, 'the secret value');
    const raw = Buffer.from(sealed.slice(SEALED_V1.length), 'base64url');
    for (const at of [0, 33, 45, 60, raw.length - 1]) {
      const bad = Buffer.from(raw);
      bad[at] ^= 1;
      assert.throws(() => openWith(node.privateKey, SEALED_V1 + bad.toString('base64url')), SealError, `byte ${at}`);
    }
    assert.throws(() => openWith(node.privateKey, SEALED_V1 + raw.subarray(0, 40).toString('base64url')), /too short/);
  });

  it('refuses a value in clear where a sealed one belongs', () => {
    assert.throws(() => openWith(node.privateKey, 'hunter2', 'env PASSWORD'), /env PASSWORD came in clear where a value sealed for this node was expected/);
  });

  it("seals every secret of a job and nothing else, and the node's agent opens them back", () => {
    const converge: NodeJobs['app.converge'] = { appId: 'a1', gears: [gear({ DATABASE_URL: 'postgres://u:canary@db/x', PORT: '8080' })] };
    const sealed = sealNodeJob('app.converge', converge, node.publicKey);
    assert.ok(!JSON.stringify(sealed).includes('canary'));
    assert.ok(Object.values(sealed.gears[0].env).every((v) => v.startsWith(SEALED_V1)));
    assert.equal(sealed.gears[0].gearId, 'g1');
    assert.deepEqual(openNodeJob('app.converge', sealed, node.privateKey), converge);

    const build: NodeJobs['app.build'] = {
      operationId: 'o',
      appId: 'a1',
      deploymentId: 'd',
      sourceUrl: '/api/v1/deployments/d/source?token=canary-token',
      base: { ref: 'x' },
      recipe: null,
      tag: 't',
      push: false,
      labels: {},
      limits: { memoryMb: 512, timeoutSeconds: 60 },
      release: { command: ['migrate'], network: 'n', env: { SECRET: 'canary' } },
      secrets: ['canary'],
    };
    const sealedBuild = sealNodeJob('app.build', build, node.publicKey);
    assert.ok(!JSON.stringify(sealedBuild).includes('canary'));
    assert.deepEqual(openNodeJob('app.build', sealedBuild, node.privateKey), build);

    const snapshot: NodeJobs['app.snapshot'] = { operationId: 'o', appId: 'a', uploadUrl: '/api/v1/snapshots/o?token=canary', items: [], meta: {} };
    assert.ok(!JSON.stringify(sealNodeJob('app.snapshot', snapshot, node.publicKey)).includes('canary'));
    const restore: NodeJobs['app.restore'] = { operationId: 'o', appId: 'a', sourceUrl: '/api/v1/snapshots/restore/canary', items: [] };
    assert.deepEqual(openNodeJob('app.restore', sealNodeJob('app.restore', restore, node.publicKey), node.privateKey), restore);
  });

  it('seals for a node with one ephemeral key for a minute, each value with an IV of its own, and then with another key', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const fresh = makeNodeKeyPair();
    const converge: NodeJobs['app.converge'] = { appId: 'a1', gears: [gear({ A: 'same', B: 'same', C: 'other' })] };
    const parts = (job: NodeJobs['app.converge']) => Object.values(job.gears[0].env).map((v) => Buffer.from(v.slice(SEALED_V1.length), 'base64url'));
    const ephemeralOf = (raw: Buffer) => raw.subarray(0, 32).toString('hex');
    const one = parts(sealNodeJob('app.converge', converge, fresh.publicKey));
    assert.equal(new Set(one.map(ephemeralOf)).size, 1, 'one ephemeral key for the job');
    assert.equal(new Set(one.map((raw) => raw.subarray(32, 44).toString('hex'))).size, 3, 'an IV per value');
    assert.notEqual(one[0].toString('hex'), one[1].toString('hex'), 'equal values seal apart');
    t.mock.timers.tick(EPHEMERAL_TTL_MS - 1);
    const two = parts(sealNodeJob('app.converge', converge, fresh.publicKey));
    assert.equal(ephemeralOf(two[0]), ephemeralOf(one[0]), 'the same key within the minute');
    assert.notEqual(two[0].toString('hex'), one[0].toString('hex'), 'yet another ciphertext');
    assert.notEqual(ephemeralOf(parts(sealNodeJob('app.converge', converge, node.publicKey))[0]), ephemeralOf(one[0]), 'another node, another key');
    t.mock.timers.tick(1);
    const three = parts(sealNodeJob('app.converge', converge, fresh.publicKey));
    assert.notEqual(ephemeralOf(three[0]), ephemeralOf(one[0]), 'a new key once the minute is over');
    // The node opens jobs of either key with the same private key object, which keeps what it derived.
    const key = createPrivateKey(fresh.privateKey);
    for (let i = 0; i < 3; i++) assert.deepEqual(openNodeJob('app.converge', sealNodeJob('app.converge', converge, fresh.publicKey), key), converge);
    t.mock.timers.tick(EPHEMERAL_TTL_MS);
    assert.deepEqual(openNodeJob('app.converge', sealNodeJob('app.converge', converge, fresh.publicKey), key), converge);
    assert.throws(() => openNodeJob('app.converge', sealNodeJob('app.converge', converge, fresh.publicKey), createPrivateKey(other.privateKey)), SealError);
  });

  it('refuses a job whose secrets came in clear, and sends none to a node without a public key', () => {
    const converge: NodeJobs['app.converge'] = { appId: 'a1', gears: [gear({ PASSWORD: 'canary' })] };
    assert.throws(() => openNodeJob('app.converge', converge, node.privateKey), /env PASSWORD of gear g1 came in clear/);
    assert.throws(() => sealNodeJob('app.converge', converge, null, 'node n1'), /node n1 has given no public key to seal env PASSWORD of gear g1 for/);
    // A job with no secret value needs no key.
    assert.deepEqual(sealNodeJob('app.converge', { appId: 'a1', gears: [gear({})] }, null), { appId: 'a1', gears: [gear({})] });
    assert.deepEqual(sealNodeJob('node.ping', { sentAt: 1 }, null), { sentAt: 1 });
  });
});

describe('certificates sealed in the route table', () => {
  const key = routeSealingKey(randomBytes(32));

  it('round-trips, refuses another key and any change', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n';
    const sealed = sealRouteSecret(key, pem);
    assert.ok(!sealed.includes('PRIVATE KEY'));
    assert.equal(openRouteSecret(key, sealed), pem);
    assert.throws(() => openRouteSecret(routeSealingKey(randomBytes(32)), sealed), SealError);
    const tampered = sealed.slice(0, -2) + (sealed.endsWith('AA') ? 'AB' : 'AA');
    assert.throws(() => openRouteSecret(key, tampered), SealError);
    assert.throws(() => openRouteSecret(key, pem), /not sealed/);
  });
});
