import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { failureHeadline } from './deployment-failure';

describe("a failed deployment's headline", () => {
  it("keeps the first line and leaves out the gear's output", () => {
    assert.equal(
      failureHeadline('web stopped with exit code 1 before it passed its health check; it printed: secret=1\nmore output'),
      'web stopped with exit code 1 before it passed its health check',
    );
    assert.equal(failureHeadline('the build failed: step 3 exited with 2\nlog'), 'the build failed: step 3 exited with 2');
    assert.equal(failureHeadline(null), 'it failed');
    assert.equal(failureHeadline('x'.repeat(400)).length, 300);
  });

  it("says a build failed in a few words, never the registry, the image or the build's command", () => {
    const said = failureHeadline(
      "building 127.0.0.1:5000/gearshift-apps/gearshift-0b1c2d3e-aaaa-4bbb-8ccc-123456789abc:1 failed: The command '/bin/sh -c SSL_CERT_FILE=/etc/gs/ca.pem npm ci' returned a non-zero code: 1",
    );
    assert.equal(said, "its build failed (its owner sees why in the push output and in the app's deployments)");
    assert.equal(failureHeadline('building x:1 took longer than 900 s and was stopped'), said);
    assert.equal(
      failureHeadline("service web: building 127.0.0.1:5000/gearshift-apps/x:1-web failed: The command '/bin/sh -c exit 3' returned a non-zero code: 3"),
      "the build of service web failed (its owner sees why in the push output and in the app's deployments)",
    );
  });

  it("leaves out any other reference to an image of the platform's registry", () => {
    assert.equal(
      failureHeadline('no node could pull 10.0.0.5:5000/gearshift-apps/gearshift-abc:3 (manifest unknown)'),
      'no node could pull the release image (manifest unknown)',
    );
  });
});
