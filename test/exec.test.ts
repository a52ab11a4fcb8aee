import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { eventually, Platform, runCli } from './support/platform';

/**
 * Commands in an app's gears and interactive commands: `POST .../exec` runs a command in a running gear and gives its
 * output and exit code (so does `gearshift exec`); `run` and `exec` over a WebSocket give the command a terminal (or
 * an input), echo what is typed, follow a resize, and end with the exit code; each is in the audit log with who ran
 * what; a viewer of the app's team may do none of it; one user's commands are limited as one-off commands are.
 */

const APP = '/domains/dev/apps/shell';

type Line = { line?: string; stream?: string; exitCode?: number; error?: string };

/** A WebSocket session with a command: everything it printed, as text, and how it ended. */
class Session {
  output = '';
  lines: Line[] = [];
  end?: Line;
  closed: Promise<void>;
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, binary: boolean) => {
      if (binary) this.output += data.toString('utf8');
      else {
        const m = JSON.parse(data.toString('utf8')) as Line;
        if (m.line !== undefined) this.lines.push(m);
        else this.end = m;
      }
    });
    this.closed = new Promise((resolve) => ws.on('close', () => resolve()));
  }
  type(text: string) {
    this.ws.send(Buffer.from(text), { binary: true });
  }
  async until(what: RegExp, ms = 30_000) {
    await eventually(`${what} in the terminal (so far: ${JSON.stringify(this.output.slice(-300))})`, async () => what.test(this.output), ms, 50);
  }
}

describe('exec and interactive commands', { timeout: 600_000 }, () => {
  let p: Platform;
  let viewer = '';
  const home = mkdtempSync(join(tmpdir(), 'gearshift-exec-cli-'));

  /** Opens a WebSocket on the run or exec path with this query; rejects with the HTTP status of a refusal. */
  const open = (kind: 'run' | 'exec', query: Record<string, string | string[]>, token = p.token, app = APP) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) for (const one of [v].flat()) q.append(k, one);
    const ws = new WebSocket(`ws://127.0.0.1:${p.port}/api/v1${app}/${kind}?${q}`, { headers: { authorization: `Bearer ${token}` } });
    return new Promise<Session>((resolve, reject) => {
      ws.once('open', () => resolve(new Session(ws)));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () =>
          reject(Object.assign(new Error(`refused: ${res.statusCode} ${body}`), { status: res.statusCode, body: JSON.parse(body) as unknown })),
        );
      });
      ws.once('error', reject);
    });
  };

  const ndjson = async (path: string, body: unknown, token = p.token) => {
    const res = await fetch(`${p.baseUrl}/api/v1${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    return {
      status: res.status,
      messages: res.ok
        ? text
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Line)
        : [JSON.parse(text) as Line],
    };
  };

  before(async () => {
    p = await Platform.start('exec', { node1: {} }, { env: { GEARSHIFT_MAX_RUNS: '2' } });
    assert.equal((await p.api('POST', '/users', { username: 'vic', password: 'vic password 1' })).status, 201);
    viewer = (await p.api('POST', '/auth/login', { username: 'vic', password: 'vic password 1' }, null)).body.token as string;
    assert.equal((await p.api('POST', '/teams', { name: 'crew' })).status, 201);
    assert.equal((await p.api('POST', '/teams/crew/members', { username: 'vic', role: 'viewer' })).status, 200);
    assert.equal((await p.api('POST', '/domains', { name: 'dev', team: 'crew' })).status, 201);
    const created = await p.api('POST', '/domains/dev/apps?wait=120', { name: 'shell', cartridges: ['static'], env: { GREETING: 'hello' } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const deployed = (await p.deployFiles(APP, { 'index.html': '<p>shell</p>\n' })).body as { operation: { state: string } };
    assert.equal(deployed.operation.state, 'succeeded', JSON.stringify(deployed));
  });
  after(async () => {
    await p?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('runs a command in a running gear, giving its output, apart by stream, and its exit code', async () => {
    const gears = (await p.api('GET', APP)).body.gears as { id: string; state: string }[];
    const gear = gears.find((g) => g.state === 'running')!;
    const r = await ndjson(`${APP}/exec`, { command: ['sh', '-c', 'echo in the gear $GREETING; echo to stderr >&2; exit 4'] });
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.messages
        .filter((m) => m.line !== undefined)
        .map((m) => `${m.stream}: ${m.line}`)
        .sort(),
      ['stderr: to stderr', 'stdout: in the gear hello'],
    );
    assert.deepEqual(r.messages.at(-1), { exitCode: 4 });
    // In that gear: the same container, not a new one.
    const named = await ndjson(`${APP}/exec`, { command: ['cat', '/etc/hostname'], gear: gear.id.slice(0, 8) });
    assert.deepEqual(named.messages.at(-1), { exitCode: 0 });
    assert.equal(named.messages.filter((m) => m.line !== undefined).length, 1);
    assert.equal((await ndjson(`${APP}/exec`, { command: ['true'], gear: 'ffffffff' })).status, 404);
    assert.equal((await ndjson(`${APP}/exec`, { command: [] })).status, 400);
    assert.equal((await p.containers({ 'gearshift.role': 'run' })).length, 0, 'no one-off container for an exec');
  });

  it("prints gearshift exec's output and exits with the command's exit code", async () => {
    const login = await runCli(p, home, ['login', '--password-stdin'], `${p.adminPassword}\n`);
    assert.equal(login.code, 0, login.stderr);
    const out = await runCli(p, home, ['exec', 'shell', '-d', 'dev', '--', 'sh', '-c', 'echo from exec; exit 6']);
    assert.equal(out.code, 6, out.stderr);
    assert.equal(out.stdout, 'from exec\n');
    const gear = ((await p.api('GET', APP)).body.gears as { id: string }[])[0].id.slice(0, 8);
    const named = await runCli(p, home, ['exec', 'shell', gear, '-d', 'dev', '--', 'echo', 'named']);
    assert.equal(named.code, 0, named.stderr);
    assert.equal(named.stdout, 'named\n');
    // Input without a terminal: what the CLI reads goes to the command.
    const piped = await runCli(p, home, ['exec', '-i', 'shell', '-d', 'dev', '--', 'sh', '-c', 'read x; echo got $x; exit 2'], 'piped\n');
    assert.equal(piped.code, 2, piped.stderr);
    assert.equal(piped.stdout, 'got piped\n');
  });

  it('runs an interactive command with a terminal over a WebSocket: echoes what is typed, follows a resize, ends with the exit code', async (t) => {
    const s = await open('run', { command: 'sh', tty: 'true', cols: '100', rows: '30' });
    // A session this case leaves open would hold a command of the user's, and the cases after it would see it.
    t.after(() => s.ws.terminate());
    s.type('echo hello-$((6*7))\n');
    // The terminal echoes the line typed (a terminal ends lines with \r\n), then the shell prints the answer.
    await s.until(/echo hello-\$\(\(6\*7\)\)\r\n/);
    await s.until(/\bhello-42\r\n/);
    s.type('stty size\n');
    await s.until(/\b30 100\r\n/);
    s.ws.send(JSON.stringify({ resize: { cols: 120, rows: 40 } }));
    s.type('stty size\n');
    await s.until(/\b40 120\r\n/);
    s.type('test -t 0 && echo on a tty; echo $GREETING; exit 5\n');
    await s.closed;
    assert.match(s.output, /\non a tty\r\nhello\r\n/);
    assert.deepEqual(s.end, { exitCode: 5 });
    // A one-off container, gone once the command ended.
    await eventually('the one-off container to go', async () => (await p.containers({ 'gearshift.role': 'run' })).length === 0, 15_000, 200);
  });

  it('runs an interactive command in a running gear; without a terminal, its input ends with the end of what was sent', async () => {
    const s = await open('exec', { command: ['sh', '-c', 'cat; echo cat ended; exit 3'] });
    s.type('first line\n');
    s.ws.send(JSON.stringify({ eof: true }));
    await s.closed;
    assert.deepEqual(
      s.lines.map((l) => l.line),
      ['first line', 'cat ended'],
    );
    assert.deepEqual(s.end, { exitCode: 3 });
    const t = await open('exec', { command: 'sh', tty: 'true' });
    t.type('tty && exit 0\n');
    await t.closed;
    assert.match(t.output, /\/dev\/pts\/\d+/);
    assert.deepEqual(t.end, { exitCode: 0 });
  });

  it('records each command in the audit log with who ran what', async () => {
    const events = await eventually(
      'the audit events',
      async () => {
        const list = (await p.api('GET', '/audit?limit=500')).body as {
          action: string;
          user: string;
          target: string;
          details: Record<string, unknown>;
          status: number;
        }[];
        return list.some((e) => e.action === 'app.run' && e.details.interactive === true) && list;
      },
      10_000,
      200,
    );
    const interactive = events.find((e) => e.action === 'app.run' && e.details.interactive === true)!;
    assert.equal(interactive.user, 'admin');
    assert.equal(interactive.target, 'dev/shell');
    assert.deepEqual(interactive.details.command, ['sh']);
    assert.equal(interactive.details.tty, true);
    assert.equal(interactive.details.exitCode, 5);
    const execs = events.filter((e) => e.action === 'app.exec');
    assert.ok(
      execs.some((e) => JSON.stringify(e.details.command) === JSON.stringify(['sh', '-c', 'echo in the gear $GREETING; echo to stderr >&2; exit 4'])),
      JSON.stringify(execs),
    );
    assert.ok(execs.some((e) => e.details.interactive === true && e.details.exitCode === 3));
    // The command's words, never the environment it ran with.
    assert.doesNotMatch(JSON.stringify(events.filter((e) => e.action.startsWith('app.'))), /"hello"/);
  });

  it('refuses a viewer of the team every kind of command (403), before anything runs', async () => {
    assert.equal((await p.api('GET', APP, undefined, viewer)).status, 200, 'a viewer may read the app');
    for (const [path, body] of [
      [`${APP}/run`, { command: ['true'] }],
      [`${APP}/exec`, { command: ['true'] }],
    ] as const) {
      const r = await ndjson(path, body, viewer);
      assert.equal(r.status, 403, `${path}: ${JSON.stringify(r.messages)}`);
    }
    for (const kind of ['run', 'exec'] as const) {
      await assert.rejects(open(kind, { command: 'sh', tty: 'true' }, viewer), (err: Error & { status?: number; body?: { code?: string } }) => {
        assert.equal(err.status, 403);
        assert.equal(err.body?.code, 'forbidden');
        return true;
      });
    }
    await assert.rejects(open('run', { command: 'sh' }, 'not-a-token'), (err: Error & { status?: number }) => err.status === 401);
    const refused = (await p.api('GET', '/audit?limit=500&user=vic')).body as { action: string; outcome: string }[];
    assert.ok(refused.some((e) => e.action === 'app.run' && e.outcome === 'refused'));
    assert.equal((await p.containers({ 'gearshift.role': 'run' })).length, 0);
  });

  it("counts a user's interactive commands with the rest: past GEARSHIFT_MAX_RUNS the next is 429", async () => {
    const a = await open('run', { command: 'sh', tty: 'true' });
    const b = await open('exec', { command: 'sh', tty: 'true' });
    await a.until(/[$#] $/);
    await b.until(/[$#] $/);
    const third = await ndjson(`${APP}/exec`, { command: ['true'] });
    assert.equal(third.status, 429);
    await assert.rejects(open('run', { command: 'true' }), (err: Error & { status?: number }) => err.status === 429);
    a.type('exit 0\n');
    b.type('exit 0\n');
    await Promise.all([a.closed, b.closed]);
    assert.deepEqual((await ndjson(`${APP}/exec`, { command: ['true'] })).messages.at(-1), { exitCode: 0 });
  });
});
