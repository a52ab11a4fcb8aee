import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The CLI as a user runs it, with a config of its own and a broker nowhere: usage errors need none. */
function gearshift(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const home = mkdtempSync(join(tmpdir(), 'gearshift-cli-usage-'));
  try {
    const r = spawnSync(process.execPath, [join(__dirname, 'main.js'), ...args], {
      env: { ...process.env, XDG_CONFIG_HOME: home, GEARSHIFT_SERVER: 'http://127.0.0.1:1' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

describe('gearshift exit codes', () => {
  it('exits 2 on an unknown option or a missing argument of a command, with its usage line on stderr', () => {
    const unknown = gearshift(['apps', 'list', '--bogus']);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /^error: unknown option '--bogus'$/m);
    assert.match(unknown.stderr, /^usage: gearshift apps list \[options\]$/m);
    assert.equal(unknown.stdout, '');
    const missing = gearshift(['apps', 'show']);
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /^error: missing required argument 'name'$/m);
    assert.match(missing.stderr, /^usage: gearshift apps show \[options\] <name>$/m);
    const words = gearshift(['exec', 'shop']);
    assert.equal(words.code, 2, words.stderr);
    assert.match(words.stderr, /^usage: gearshift exec \[options\] <app> <words\.\.\.>$/m);
  });

  it('exits 2 on an unknown command or a malformed argument, and shows the usage line for it too', () => {
    const command = gearshift(['frobnicate']);
    assert.equal(command.code, 2);
    assert.match(command.stderr, /^usage: gearshift \[options\] \[command\]$/m);
    const assignment = gearshift(['env', 'set', 'shop', '-d', 'dev', 'NOVALUE']);
    assert.equal(assignment.code, 2, assignment.stderr);
    assert.match(assignment.stderr, /^error: "NOVALUE" is not NAME=value$/m);
    assert.match(assignment.stderr, /^usage: gearshift env set \[options\] <app> <assignments\.\.\.>$/m);
  });

  it('keeps the other codes: 4 for a broker it cannot reach, 0 for help, which lists them', () => {
    const down = gearshift(['domains']);
    assert.equal(down.code, 4, down.stderr);
    assert.doesNotMatch(down.stderr, /^usage:/m);
    const help = gearshift(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Exit codes:\n {2}0 {2}done\n {2}1 {2}the operation failed.*\n {2}2 {2}bad usage/m);
  });
});
