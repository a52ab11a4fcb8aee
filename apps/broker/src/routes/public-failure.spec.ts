import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { publicFailure } from './public-failure';

describe('publicFailure', () => {
  it("keeps the first line of a gear's failure, without what the gear printed", () => {
    assert.equal(
      publicFailure(
        'release 1 was rolled back: gear nodejs-18 ab12cd34 stopped with exit code 1 before it passed its health check; it printed: secret=x\nmore',
      ),
      'release 1 was rolled back: gear nodejs-18 ab12cd34 stopped with exit code 1 before it passed its health check',
    );
  });

  it("says a build failed in a few words, never the registry, the image or the build's command", () => {
    const said = publicFailure(
      "building 127.0.0.1:5000/gearshift-apps/gearshift-0b1c2d3e-aaaa-4bbb-8ccc-123456789abc:1 failed: The command '/bin/sh -c SSL_CERT_FILE=/etc/gs/ca.pem npm ci' returned a non-zero code: 1",
    );
    assert.equal(said, "its build failed (its owner sees why in the push output and in the app's deployments)");
    assert.equal(publicFailure('building x:1 took longer than 900 s and was stopped'), said);
  });

  it("leaves out any other reference to an image of the platform's registry", () => {
    assert.equal(
      publicFailure('no node could pull 10.0.0.5:5000/gearshift-apps/gearshift-abc:3 (manifest unknown)'),
      'no node could pull the release image (manifest unknown)',
    );
    assert.equal(publicFailure(null), 'it failed');
  });
});
