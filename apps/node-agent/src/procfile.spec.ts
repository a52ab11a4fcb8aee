import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeProcfile, parseProcfile } from './procfile';

describe('what a build says of its Procfile', () => {
  it('names the start command, the release command and each process that runs as gears of its own', () => {
    const lines = describeProcfile(parseProcfile('web: npm start\nworker: node worker.js\nrelease: node migrate.js\nclock: node clock.js\n'));
    assert.deepEqual(lines, [
      "start command: npm start (the Procfile's web process)",
      "release command: node migrate.js (the Procfile's release process, run once before the release takes traffic)",
      'process clock: node clock.js (runs as gears of its own, without a port)',
      'process worker: node worker.js (runs as gears of its own, without a port)',
    ]);
  });

  it("falls back to the cartridge's start when there is no web process", () => {
    assert.match(describeProcfile(parseProcfile('worker: node worker.js\n'))[0], /no web process/);
  });

  it('says which lines were ignored', () => {
    assert.match(describeProcfile(parseProcfile('web: a\noops\n')).at(-1)!, /line\(s\) 2 are not "name: command"/);
  });
});
