import { Agent as HttpAgent, request, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import assert from 'node:assert/strict';
import { sleep } from './processes';
import type { Platform } from './platform';

export interface ApiResponse<T = any> {
  status: number;
  body: T;
}

/** Sends a GET made by `send` and resolves its status and body as text; no answer within `timeoutMs` is an error. */
function answerOf(send: (answer: (res: IncomingMessage) => void) => ClientRequest, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = send((res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** One plain HTTP GET to a loopback port with the Host header given: how a request reaches the router. */
export function hostRequest(port: number, host: string, path = '/', agent?: HttpAgent, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return answerOf((answer) => request({ host: '127.0.0.1', port, path, headers: { host }, agent }, answer), timeoutMs);
}

/**
 * One HTTPS GET to a loopback port, naming `host` in SNI and the Host header and trusting only `ca`: how a client
 * reaches an app through the router's TLS port.
 */
export function hostRequestTls(port: number, host: string, ca: string, path = '/', timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return answerOf(
    (answer) => httpsRequest({ host: '127.0.0.1', port, path, servername: host, headers: { host }, ca, agent: new HttpsAgent() }, answer),
    timeoutMs,
  );
}

/** GET a URL and parse JSON, or null when nothing answers. */
export async function getJson(url: string): Promise<{ status: number; body: any } | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    const text = await res.text();
    try {
      return { status: res.status, body: JSON.parse(text) };
    } catch {
      return { status: res.status, body: text };
    }
  } catch {
    return null;
  }
}

/**
 * Requests through the router, one after another, until stop() is called; every answer but a 200 is a failure.
 * `pick` reads what each 200 says (the gear that answered, the release's version) into `seen`; stop() gives the
 * number of 200s.
 */
export function requestLoop(p: Platform, host: string, pick: (body: string) => string) {
  const agent = new HttpAgent({ keepAlive: true, maxSockets: 4 });
  const failures: string[] = [];
  const seen = new Set<string>();
  let ok = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const r = await p.viaRouter(host, '/', agent);
        if (r.status === 200) {
          ok++;
          seen.add(pick(r.body));
        } else failures.push(`status ${r.status}: ${r.body.slice(0, 200)}`);
      } catch (err) {
        failures.push((err as Error).message);
        await sleep(50);
      }
    }
  })();
  return {
    seen,
    failures,
    async stop(): Promise<number> {
      running = false;
      await loop;
      agent.destroy();
      return ok;
    },
  };
}

/**
 * What a restart of an app whose `cartridge` gear restarts in place must show: the operation succeeded, the loop's
 * requests all answered (more than ten of them), and its steps say the gear restarts in place as the app's own
 * downtime and is back after a measured time. Returns the number of answers and that last step.
 */
export async function assertServedThroughRestart(
  loop: ReturnType<typeof requestLoop>,
  operation: { state: string; steps: { text: string }[] } | undefined,
  cartridge: string,
): Promise<{ ok: number; back: string }> {
  const ok = await loop.stop();
  assert.equal(operation?.state, 'succeeded', JSON.stringify(operation));
  assert.deepEqual(loop.failures.slice(0, 5), [], `${loop.failures.length} of ${ok + loop.failures.length} requests failed`);
  assert.ok(ok > 10, `only ${ok} requests went through`);
  const steps = operation.steps.map((s) => s.text);
  assert.ok(
    steps.some((t) => new RegExp(`^restarting gear ${cartridge} \\w+ in place .*the app's own downtime$`).test(t)),
    steps.join('\n'),
  );
  const back = steps.find((t) => new RegExp(`^gear ${cartridge} \\w+ is back after \\d+\\.\\d s$`).test(t));
  assert.ok(back, steps.join('\n'));
  return { ok, back };
}
