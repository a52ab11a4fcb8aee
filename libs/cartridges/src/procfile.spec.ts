import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gearProcessTypes, newProcessTypes, parseProcfile, procfileCommand, releaseProcessGears } from './procfile';

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
    const p = parseProcfile('web node server.js\nweb: nf start\nworker:\n' + 'x'.repeat(31) + ': too long a name\n');
    assert.deepEqual(p.ignored, [1, 3, 4]);
    assert.equal(p.processes.get('web'), 'nf start');
  });

  it('reports a type named as a member of every object, which no lookup by name could tell from it', () => {
    const p = parseProcfile('web: a\nconstructor: b\n__proto__: c\ntoString: d\n');
    assert.deepEqual(p.ignored, [2, 3, 4]);
    assert.deepEqual([...p.processes.keys()], ['web']);
  });

  it('runs a line through a shell with exec, so $PORT expands and the app gets the stop signal', () => {
    assert.deepEqual(procfileCommand('gunicorn app:app -b 0.0.0.0:$PORT'), ['/bin/sh', '-c', 'exec gunicorn app:app -b 0.0.0.0:$PORT']);
  });

  it('runs every type but web and release as gears of its own', () => {
    assert.deepEqual(gearProcessTypes(parseProcfile('web: a\nrelease: b\nworker: c\nclock: d\n').processes), ['clock', 'worker']);
    assert.deepEqual(gearProcessTypes({ web: 'a' }), []);
  });

  it('names the process types a release starts a first gear of: new to it, and running no gear', () => {
    const release = { web: 'node server.js', worker: 'node worker.js', clock: 'node clock.js', mailer: 'node mail.js', release: 'npm run migrate' };
    // clock: named by the release it replaces and scaled to 0; mailer: already runs; worker: new.
    assert.deepEqual(newProcessTypes(release, { clock: 'node clock.js' }, ['mailer', null]), ['worker']);
    assert.deepEqual(newProcessTypes({ web: 'node server.js', release: 'x' }, {}, []), []);
  });

  it('counts the gears of each process type a release runs: as many as run now, one of a new type, none of one scaled to 0', () => {
    const release = { web: 'node server.js', worker: 'node worker.js', clock: 'node clock.js', mailer: 'node mail.js', release: 'npm run migrate' };
    // Three workers run now; clock was scaled to 0 under the release before; mailer is new; sweeper is dropped.
    const running = ['worker', 'worker', 'worker', 'sweeper', null];
    assert.deepEqual(releaseProcessGears(release, { worker: 'node w.js', clock: 'node c.js', sweeper: 'x' }, running), { clock: 0, mailer: 1, worker: 3 });
    assert.deepEqual(releaseProcessGears({ web: 'node server.js' }, {}, running), {});
  });
});
