import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { imageReferenceProblem, isImageReference, parseImageReference } from './image-reference';

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
