import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EXIT_UNEXPECTED, lastResort } from './last-resort';

describe('the last line of defence', () => {
  it('logs an unexpected error with its stack and keeps the process', () => {
    const lines: string[] = [];
    const exits: number[] = [];
    const handle = lastResort((l) => lines.push(l), { exit: (c) => exits.push(c) });
    handle('uncaught exception', new Error('getaddrinfo ENOTFOUND images'));
    assert.deepEqual(exits, []);
    assert.match(lines[0], /uncaught exception \(logged; still serving\): Error: getaddrinfo ENOTFOUND images\n\s+at /);
  });

  it('exits for the supervisor once errors keep coming', () => {
    const lines: string[] = [];
    const exits: number[] = [];
    const handle = lastResort((l) => lines.push(l), { maxErrors: 3, windowMs: 60_000, exit: (c) => exits.push(c) });
    for (let i = 0; i < 3; i++) handle('unhandled rejection', `reason ${i}`);
    assert.deepEqual(exits, []);
    handle('unhandled rejection', 'reason 3');
    assert.deepEqual(exits, [EXIT_UNEXPECTED]);
    assert.match(lines.at(-1)!, /4 unexpected errors within 60 s; exiting/);
  });
});
