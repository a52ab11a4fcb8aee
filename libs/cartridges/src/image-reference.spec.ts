import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import {
  imageReferenceProblem,
  isImageId,
  isImageReference,
  kernelAddresses,
  namesPlatformRegistry,
  parseImageReference,
  resolvesToPlatformRegistry,
  splitDomain,
} from './image-reference';

const SHA = 'a'.repeat(64);

describe('image references', () => {
  it('reads names the way Docker does: Docker Hub by default, a registry when the first part looks like a host', () => {
    assert.deepEqual(parseImageReference('nginx'), { domain: 'docker.io', path: 'library/nginx', canonical: 'docker.io/library/nginx:latest' });
    assert.deepEqual(parseImageReference('jenkins/jenkins:lts-jdk17'), {
      domain: 'docker.io',
      path: 'jenkins/jenkins',
      tag: 'lts-jdk17',
      canonical: 'docker.io/jenkins/jenkins:lts-jdk17',
    });
    assert.deepEqual(parseImageReference('registry:5000/team/api:1.2'), {
      domain: 'registry:5000',
      path: 'team/api',
      tag: '1.2',
      canonical: 'registry:5000/team/api:1.2',
    });
    assert.deepEqual(parseImageReference('127.0.0.1:5000/gearshift/app'), {
      domain: '127.0.0.1:5000',
      path: 'gearshift/app',
      canonical: '127.0.0.1:5000/gearshift/app:latest',
    });
    assert.equal(parseImageReference('localhost/app').domain, 'localhost');
    assert.equal(parseImageReference('[::1]:5000/app:v1').domain, '[::1]:5000');
    assert.equal(parseImageReference('index.docker.io/redis').canonical, 'docker.io/library/redis:latest');
    assert.equal(parseImageReference('Registry.Example.com/a/b').domain, 'Registry.Example.com');
  });

  it('takes tags and digests, alone or together', () => {
    assert.deepEqual(parseImageReference(`mongo@sha256:${SHA}`), {
      domain: 'docker.io',
      path: 'library/mongo',
      digest: `sha256:${SHA}`,
      canonical: `docker.io/library/mongo@sha256:${SHA}`,
    });
    assert.equal(parseImageReference(`localhost:5000/x:7.0@sha256:${SHA}`).canonical, `localhost:5000/x:7.0@sha256:${SHA}`);
    assert.equal(parseImageReference(`x@sha512:${'b'.repeat(128)}`).digest, `sha512:${'b'.repeat(128)}`);
    assert.equal(parseImageReference('a/b_c__d.e-f---g:Tag_1.0-x').tag, 'Tag_1.0-x');
    assert.ok(isImageReference(`x:${'t'.repeat(128)}`));
  });

  it('refuses URL schemes, file paths and other strings that are not references, saying why', () => {
    assert.match(imageReferenceProblem('file:///etc/passwd')!, /"file:\/\/" is a URL scheme/);
    assert.match(imageReferenceProblem('https://registry.example.com/app')!, /URL scheme/);
    assert.match(imageReferenceProblem('/etc/passwd')!, /empty path component/);
    assert.match(imageReferenceProblem('../../x')!, /".." is not a registry host name/);
    assert.match(imageReferenceProblem('Nginx')!, /must be lowercase/);
    assert.match(imageReferenceProblem('team/App:1')!, /must be lowercase/);
    assert.match(imageReferenceProblem('nginx latest')!, /spaces/);
    assert.match(imageReferenceProblem('nginx\n')!, /control characters/);
    assert.match(imageReferenceProblem('')!, /empty/);
    assert.match(imageReferenceProblem(':tag')!, /needs a repository name/);
    assert.match(imageReferenceProblem('a//b')!, /empty path component/);
    assert.match(imageReferenceProblem('a-/b')!, /not a repository path component/);
    assert.match(imageReferenceProblem('a/b:-x')!, /the tag "-x"/);
    assert.match(imageReferenceProblem(`x:${'t'.repeat(129)}`)!, /at most 128/);
    assert.match(imageReferenceProblem('x@sha256:abc')!, /64 lowercase hex digits/);
    assert.match(imageReferenceProblem(`x@sha256:${'A'.repeat(64)}`)!, /lowercase hex/);
    assert.match(imageReferenceProblem(`x@md5:${SHA}`)!, /sha256:, sha384: or sha512:/);
    assert.match(imageReferenceProblem('host:99999/x')!, /not a port number/);
    assert.match(imageReferenceProblem('-bad.host:5000/x')!, /not a registry host name/);
    assert.match(imageReferenceProblem(SHA)!, /image id/);
    assert.match(imageReferenceProblem(`a/${'b'.repeat(260)}`)!, /longer than 255/);
  });

  it('accepts what the catalogue and the README use', () => {
    for (const ref of ['mongo:7.0', 'jenkins/jenkins:lts-jdk17', 'registry:5000/team/api:1.2', '127.0.0.1:5000/team/api:1.4', 'gearshift/base:bookworm']) {
      assert.equal(imageReferenceProblem(ref), undefined, ref);
    }
  });
});

describe('registry spellings', () => {
  const lookups: Record<string, string[]> = { 'localhost.localdomain': ['127.0.0.1'], 'alias.internal': ['10.9.8.7'], 'registry.internal': ['10.9.8.7'] };
  const resolve = async (host: string) => {
    if (host === 'slow.example') return new Promise<never>(() => undefined);
    const found = lookups[host];
    if (!found) throw new Error('ENOTFOUND');
    return found.map((address) => ({ address, family: 4 }));
  };
  const domain = (d: string) => ({ domain: d });

  it('normalizes the port as a number and the host in lower case', () => {
    assert.deepEqual(splitDomain('LOCALHOST:05000'), { host: 'localhost', port: 5000 });
    assert.deepEqual(splitDomain('127.1:5000'), { host: '127.0.0.1', port: 5000 });
    assert.deepEqual(splitDomain('registry.internal'), { host: 'registry.internal' });
    assert.ok(namesPlatformRegistry(domain('127.0.0.1:05000'), '127.0.0.1:5000'));
    assert.ok(!namesPlatformRegistry(domain('127.0.0.1:5001'), '127.0.0.1:5000'));
  });

  it("takes any address of this machine's interfaces for a registry on it", () => {
    for (const a of Object.values(networkInterfaces()).flatMap((l) => l ?? [])) {
      const host = a.family === 'IPv6' ? `[${a.address.replace(/%.*$/, '')}]` : a.address;
      assert.ok(namesPlatformRegistry(domain(`${host}:5000`), '127.0.0.1:5000'), host);
    }
  });

  it('takes the addresses of interfaces that are down too (a bridge with no container on it), read from the kernel', () => {
    const fibTrie = [
      'Main:',
      '  +-- 0.0.0.0/0 3 1 5',
      '     |-- 100.64.0.0',
      '        /24 link UNICAST',
      '     |-- 100.64.0.1',
      '        /32 host LOCAL',
      '     |-- 100.64.0.255',
      '        /32 link BROADCAST',
    ].join('\n');
    const ifInet6 = 'fe80000000000000004223fffebd84e0 666d 40 20 80  docker0\n';
    assert.deepEqual(kernelAddresses(fibTrie, ifInet6), ['100.64.0.1', '[fe80:0000:0000:0000:0042:23ff:febd:84e0]']);
    const here = existsSync('/proc/net/fib_trie') ? kernelAddresses(readFileSync('/proc/net/fib_trie', 'utf8'), '') : [];
    for (const host of here) assert.ok(namesPlatformRegistry(domain(`${host}:5000`), '127.0.0.1:5000'), host);
  });

  it('takes a name that resolves to loopback, or to the registry, for the registry', async () => {
    assert.ok(await resolvesToPlatformRegistry(domain('localhost.localdomain:5000'), '127.0.0.1:5000', 500, resolve));
    assert.ok(await resolvesToPlatformRegistry(domain('alias.internal:5000'), 'registry.internal:5000', 500, resolve));
    assert.ok(await resolvesToPlatformRegistry(domain('slow.example:5000'), '127.0.0.1:5000', 50, resolve), 'a lookup that does not answer in time');
    assert.ok(!(await resolvesToPlatformRegistry(domain('localhost.localdomain:5001'), '127.0.0.1:5000', 500, resolve)));
    assert.ok(!(await resolvesToPlatformRegistry(domain('nowhere.example:5000'), '127.0.0.1:5000', 500, resolve)));
    assert.ok(!(await resolvesToPlatformRegistry(domain('docker.io'), '127.0.0.1:5000', 500, resolve)));
  });

  it('tells image ids from repository names', () => {
    for (const id of ['9', '972e4', '972e41fdb44d', 'a'.repeat(64), `sha256:${'a'.repeat(64)}`, 'sha256:972e4']) assert.ok(isImageId(id), id);
    for (const name of ['nginx', '972e4:1', 'team/972e4', 'a'.repeat(65), 'sha256', 'g972e4']) assert.ok(!isImageId(name), name);
  });
});
