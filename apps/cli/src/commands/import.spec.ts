import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { importCompose } from '@gearshift/cartridges';
import { showImport } from './import';

describe('gearshift import', () => {
  it('says that an app of services runs here, and that its built services wait for its code', () => {
    const out = showImport(
      importCompose('services:\n  api:\n    build: ./api\n    ports: ["80:8080"]\n  jobs:\n    build: ./jobs\n  db:\n    image: postgres:15\n'),
    );
    assert.doesNotMatch(out, /does not run named services/);
    assert.match(out, /Runs here as an app with postgresql-15, web service api, worker service jobs\./);
    assert.match(out, /api, jobs are built from the repository: push its code \(git push, or gearshift deploy\) to run them; until then the app answers 404\./);
  });

  it('names the file read when the whole of it is refused', () => {
    const bomb = `services:\n  web:\n    image: nginx\nx-a: &a x\nx-b: [${Array.from({ length: 101 }, () => '*a').join(', ')}]\n`;
    assert.match(showImport(importCompose(bomb), 'docker-compose.yml'), /^ {2}docker-compose\.yml: writes more than 100 aliases/m);
  });

  it('says nothing of pushing for an app of images only', () => {
    const out = showImport(importCompose('services:\n  web:\n    image: team/web:1\n    ports: ["80:8080"]\n'));
    assert.match(out, /Runs here as an app with docker-image \(team\/web:1\)\.$/);
  });
});
