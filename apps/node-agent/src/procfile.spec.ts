import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeProcfile, parseProcfile, procfileCommand } from './procfile';

describe('Procfiles', () => {
  it('reads each process type and its command, skipping comments and blank lines', () => {
    const p = parseProcfile('# processes\nweb: node server.js --port $PORT\r\n\nworker:   node worker.js\nrelease: npm run migrate\n');
    assert.deepEqual(
      [...p.processes],
      [
        ['web', 'node server.js --port $PORT'],
        ['worker', 'node worker.js'],
        ['release', 'npm run migrate'],
      ],
    );
    assert.deepEqual(p.ignored, []);
  });

  it('reports lines that are not "type: command" instead of dropping them silently', () => {
    const p = parseProcfile('web node server.js\nweb: nf start\n');
    assert.deepEqual(p.ignored, [1]);
    assert.equal(p.processes.get('web'), 'nf start');
  });

  it('runs web through a shell with exec, so $PORT expands and the app gets the stop signal', () => {
    assert.deepEqual(procfileCommand('gunicorn app:app -b 0.0.0.0:$PORT'), ['/bin/sh', '-c', 'exec gunicorn app:app -b 0.0.0.0:$PORT']);
  });

  it('says plainly that worker and release are not run yet', () => {
    const lines = describeProcfile(parseProcfile('web: npm start\nworker: node worker.js\nrelease: node migrate.js\n'));
    assert.equal(lines[0], "start command: npm start (the Procfile's web process)");
    assert.match(lines[1], /worker, release processes are not run yet; only web is/);
    assert.match(lines[1], /deploy hook/);
  });

  it("falls back to the cartridge's start when there is no web process", () => {
    assert.match(describeProcfile(parseProcfile('worker: node worker.js\n'))[0], /no web process/);
  });
});
