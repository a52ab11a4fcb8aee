import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import IORedis from 'ioredis';
import { eventually, Platform, runCli } from './support/platform';
import { REDIS_URL } from './support/stores';
import { freePort } from './support/processes';

/**
 * What an operator watches the platform with: GET /metrics in Prometheus's text format, liveness and readiness, and
 * JSON log lines in which one request id follows an operation from the API to the node agent.
 */

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * A strict reader of Prometheus's text exposition format (0.0.4): every line is a HELP, a TYPE or a sample of a
 * family whose TYPE came first; names, labels, escapes and values as the format says; no series twice. Throws,
 * naming the line, on anything else.
 */
function parsePrometheus(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
  const suffixes: Record<string, string[]> = {
    counter: [''],
    gauge: [''],
    untyped: [''],
    histogram: ['_bucket', '_sum', '_count'],
    summary: ['', '_sum', '_count'],
  };
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  text
    .slice(0, -1)
    .split('\n')
    .forEach((line, i) => {
      const where = `line ${i + 1}: ${line}`;
      if (line === '') return;
      if (line.startsWith('#')) {
        const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
        if (!m) return assert.match(line, /^#( |$)/, where);
        assert.match(m[2], NAME, where);
        if (m[1] === 'TYPE') {
          assert.ok(m[3] in suffixes, `${where}: unknown type`);
          assert.ok(!types.has(m[2]), `${where}: TYPE given twice`);
          types.set(m[2], m[3]);
        }
        return;
      }
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
      assert.ok(m, `${where}: not a sample`);
      const [, name, , rawLabels = '', rawValue] = m;
      const labels: Record<string, string> = {};
      let rest = rawLabels;
      while (rest.length > 0) {
        const l = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/.exec(rest);
        assert.ok(l, `${where}: bad labels at ${rest}`);
        assert.ok(!(l[1] in labels), `${where}: label ${l[1]} twice`);
        labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
        rest = rest.slice(l[0].length);
      }
      // As Prometheus reads a value (Go's ParseFloat): NaN and Inf in any case; prom-client writes an event loop lag
      // measured over no sample yet as `Nan`.
      assert.match(rawValue, /^([+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?inf(inity)?|nan)$/i, `${where}: bad value`);
      const value = Number(/^nan$/i.test(rawValue) ? NaN : rawValue.replace(/^([+-]?)inf(inity)?$/i, '$1Infinity'));
      const family = [...types.keys()].find((f) => suffixes[types.get(f)!].some((s) => name === f + s));
      assert.ok(family, `${where}: a sample of no declared family`);
      if (name.endsWith('_bucket') && types.get(family) === 'histogram') assert.ok('le' in labels, `${where}: a bucket without le`);
      const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
      assert.ok(!seen.has(key), `${where}: the same series twice`);
      seen.add(key);
      samples.push({ name, labels, value });
    });
  return { types, samples };
}

const pick = (samples: Sample[], name: string, labels: Record<string, string>) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

/** A TCP relay to the platform's Redis that can be cut and restored: Redis "goes away" for one broker alone. */
class RedisRelay {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  constructor(readonly port: number) {}

  open(): Promise<void> {
    const target = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    this.server = createServer((client) => {
      const upstream = connect(Number(target.port || 6379), target.hostname);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => s.destroy());
        s.on('close', () => this.sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    return new Promise((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  async cut(): Promise<void> {
    const closed = new Promise((r) => this.server?.close(r) ?? r(undefined));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

describe('observability: metrics, readiness, structured logs', { timeout: 600_000 }, () => {
  let p: Platform;

  before(async () => {
    // At info, so that the broker and the agent write the lines an operation leaves.
    // Gears' usage sampled and the history written every second, so that both show within a test's patience.
    p = await Platform.start(
      'observe',
      { node1: {} },
      { router: true, env: { GEARSHIFT_LOG_LEVEL: 'info', GEARSHIFT_USAGE_SAMPLE_MS: '1000', GEARSHIFT_METRICS_STEP_SECONDS: '1' } },
    );
  });
  after(async () => {
    await p?.stop();
  });

  const scrape = async () => {
    const res = await fetch(`${p.baseUrl}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return parsePrometheus(await res.text());
  };

  it('serves /metrics in Prometheus text format, and its request counters move with requests', async () => {
    const before = await scrape();
    assert.equal(before.types.get('gearshift_http_requests_total'), 'counter');
    assert.equal(before.types.get('gearshift_http_request_duration_seconds'), 'histogram');
    for (const family of ['gearshift_operations_total', 'gearshift_gears', 'gearshift_queue_jobs', 'gearshift_node_ready', 'gearshift_deployments']) {
      assert.ok(before.types.has(family), `${family} is declared`);
    }
    const listed = { route: '/api/v1/domains', method: 'GET', status: '200' };
    const count = (s: Sample[]) => pick(s, 'gearshift_http_requests_total', listed)[0]?.value ?? 0;
    const latency = (s: Sample[]) => pick(s, 'gearshift_http_request_duration_seconds_count', { route: '/api/v1/domains', method: 'GET' })[0]?.value ?? 0;
    for (let i = 0; i < 3; i++) assert.equal((await p.api('GET', '/domains')).status, 200);
    // A path no one knows and a name in a path are counted under the route, never as themselves.
    assert.equal((await p.api('GET', '/domains/nosuchdomain')).status, 404);
    assert.equal((await p.api('GET', '/no/such/path')).status, 404);
    const afterwards = await scrape();
    assert.equal(count(afterwards.samples) - count(before.samples), 3);
    assert.equal(latency(afterwards.samples) - latency(before.samples), 3);
    const notFound = JSON.stringify(pick(afterwards.samples, 'gearshift_http_requests_total', { status: '404' }));
    assert.equal(pick(afterwards.samples, 'gearshift_http_requests_total', { route: '/api/v1/domains/:domain', status: '404' }).length, 1, notFound);
    assert.equal(pick(afterwards.samples, 'gearshift_http_requests_total', { route: 'unmatched', status: '404' }).length, 1, notFound);
    assert.ok(!afterwards.samples.some((s) => Object.values(s.labels).some((v) => v.includes('nosuchdomain') || v.includes('/no/such'))));
    // The node and its state, from Postgres and Redis at the scrape.
    const node = p.nodeName('node1');
    assert.equal(pick(afterwards.samples, 'gearshift_node_ready', { node })[0]?.value, 1);
    assert.equal(pick(afterwards.samples, 'gearshift_queue_jobs', { node, state: 'waiting' }).length, 1);
  });

  it('follows an operation by its request id through the broker and the agent, and counts it when it ends', async () => {
    const requestId = `obs-${randomBytes(6).toString('hex')}`;
    assert.equal((await p.api('POST', '/domains', { name: 'obs' })).status, 201);
    const res = await fetch(`${p.baseUrl}/api/v1/domains/obs/apps?wait=120`, {
      method: 'POST',
      headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/json', 'x-request-id': requestId },
      body: JSON.stringify({ name: 'site', cartridges: ['static'] }),
    });
    const body = (await res.json()) as { operation: { id: string; state: string; kind: string } };
    assert.equal(res.headers.get('x-request-id'), requestId);
    assert.equal(body.operation.state, 'succeeded', p.logs());
    const opId = body.operation.id;
    const json = (lines: string[]) =>
      lines.flatMap((l) => {
        try {
          return [JSON.parse(l) as { requestId?: string; msg?: string; part?: string; level?: string; time?: string }];
        } catch {
          return [];
        }
      });
    const brokerLines = json(p.broker!.output).filter((l) => l.requestId === requestId);
    assert.ok(
      brokerLines.some((l) => l.part === 'broker' && l.msg?.includes(opId)),
      `a broker line about operation ${opId} carries the request id:\n${p.logs()}`,
    );
    await eventually('the agent to log the job with the request id', async () =>
      json(p.agents.get('node1')!.output).some((l) => l.requestId === requestId && l.part === 'agent' && l.msg?.includes(opId)),
    );
    // Every line the broker and agent wrote is JSON with a time and a level.
    for (const proc of [p.broker!, p.agents.get('node1')!]) {
      const lines = proc.output.filter((l) => l.startsWith('{'));
      assert.ok(lines.length > 0);
      for (const l of json(lines)) assert.ok(l.time && l.level, JSON.stringify(l));
    }
    // No secret reaches a log: the admin's token and password are nowhere in them.
    const everything = [...p.broker!.output, ...p.agents.get('node1')!.output].join('\n');
    assert.ok(!everything.includes(p.token), 'the bearer token is not logged');
    assert.ok(!everything.includes(p.adminPassword), 'the admin password is not logged');

    const { samples } = await scrape();
    assert.ok((pick(samples, 'gearshift_operations_total', { kind: body.operation.kind, outcome: 'succeeded' })[0]?.value ?? 0) >= 1);
    assert.ok((pick(samples, 'gearshift_operation_duration_seconds_count', { kind: body.operation.kind, outcome: 'succeeded' })[0]?.value ?? 0) >= 1);
    assert.ok(pick(samples, 'gearshift_gears', { node: p.nodeName('node1'), state: 'running' })[0]?.value >= 1);
    // The app's traffic as the router's HAProxy counts it.
    for (let i = 0; i < 5; i++) assert.equal((await p.viaRouter('site-obs.localhost', '/')).status, 200);
    const app = { domain: 'obs', app: 'site' };
    await eventually(
      "the app's requests through the router in the metrics",
      async () => (pick((await scrape()).samples, 'gearshift_app_requests_total', app)[0]?.value ?? 0) >= 5,
      30_000,
      500,
    );
    const traffic = (await scrape()).samples;
    assert.equal(pick(traffic, 'gearshift_app_errors_total', app)[0]?.value, 0);
    assert.equal(pick(traffic, 'gearshift_app_response_time_seconds', app).length, 1);
    // A second router writes its own field for the app: the broker adds the two, neither replaces the other.
    const redis = new IORedis(REDIS_URL);
    let appId: string | undefined;
    try {
      // The router names its field app id/router; this platform's one app is the site.
      const fields = Object.keys(await redis.hgetall(`${p.instance}:traffic`));
      assert.ok(fields.length > 0 && fields.every((f) => /^[^/]+\/.+:\d+$/.test(f)), fields.join(' '));
      const ids = [...new Set(fields.map((f) => f.split('/')[0]))];
      assert.equal(ids.length, 1, fields.join(' '));
      appId = ids[0];
      const other = { at: Date.now(), concurrent: 0, rate: 0, lastRequestAt: 0, http: { requests: 1000, errors: 7, responseMs: 3 } };
      await redis.hset(`${p.instance}:traffic`, `${appId}/another-router:8000`, JSON.stringify(other));
      const both = (await scrape()).samples;
      assert.ok((pick(both, 'gearshift_app_requests_total', app)[0]?.value ?? 0) >= 1005);
      assert.equal(pick(both, 'gearshift_app_errors_total', app)[0]?.value, 7);
    } finally {
      if (appId) await redis.hdel(`${p.instance}:traffic`, `${appId}/another-router:8000`);
      redis.disconnect();
    }
    // The gear's CPU and memory, as its node samples them from Docker.
    const gear = { node: p.nodeName('node1'), domain: 'obs', app: 'site' };
    const usage = await eventually(
      "the gear's CPU and memory in the metrics",
      async () => {
        const s = (await scrape()).samples;
        const memory = pick(s, 'gearshift_gear_memory_bytes', gear);
        return memory.length === 1 ? { memory: memory[0], cpu: pick(s, 'gearshift_gear_cpu_seconds_total', gear)[0] } : null;
      },
      60_000,
      1000,
    );
    assert.ok(usage.memory.value > 0 && usage.memory.value < 1024 ** 3, JSON.stringify(usage));
    assert.ok(usage.cpu.value >= 0 && usage.cpu.labels.gear === usage.memory.labels.gear, JSON.stringify(usage));
    // From the gear's second sample on, its CPU as a ratio of one core.
    await eventually(
      "the gear's CPU ratio in the metrics",
      async () => pick((await scrape()).samples, 'gearshift_gear_cpu_ratio', { ...gear, gear: usage.memory.labels.gear })[0]?.value >= 0,
      30_000,
      1000,
    );

    // The node's jobs, from being queued to their end on the agent, and its queue's depth.
    const jobs = (await scrape()).samples;
    const node = p.nodeName('node1');
    const timed = pick(jobs, 'gearshift_job_duration_seconds_count', { node });
    assert.ok(timed.reduce((sum, s) => sum + s.value, 0) >= 1, JSON.stringify(timed));
    assert.ok(
      timed.every((s) => s.labels.kind),
      JSON.stringify(timed),
    );
    assert.equal(pick(jobs, 'gearshift_queue_depth', { node }).length, 1);

    // The app's recent history, for the console's charts: its requests per second and the gear's memory. A rate is
    // the requests counted between two samples (the app's first point takes the router's own rate, which may already
    // be back to 0), so requests go on while the history fills.
    const history = await eventually(
      "the app's requests and its gear in its metrics history",
      async () => {
        assert.equal((await p.viaRouter('site-obs.localhost', '/')).status, 200);
        const res = await p.api('GET', '/domains/obs/apps/site/metrics?minutes=5');
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const h = res.body as {
          step: number;
          series: Record<'requestsPerSecond' | 'responseTimeMs' | 'errorRate', [number, number][]>;
          gears: { name: string; node: string; cpuPercent: [number, number][]; memoryBytes: [number, number][] }[];
        };
        return h.series.requestsPerSecond.some(([, v]) => v > 0) && h.gears.some((g) => g.memoryBytes.some(([, v]) => v > 0)) ? h : null;
      },
      30_000,
      1000,
    );
    assert.equal(history.step, 1);
    assert.deepEqual(Object.keys(history.series).sort(), ['errorRate', 'requestsPerSecond', 'responseTimeMs']);
    const now = Date.now() / 1000;
    for (const points of Object.values(history.series)) {
      assert.ok(
        points.every(([t, v]) => Number.isInteger(t) && t > now - 5 * 60 - 2 && t <= now + 1 && Number.isFinite(v)),
        JSON.stringify(points),
      );
    }
    assert.ok(
      history.series.errorRate.every(([, v]) => v === 0),
      JSON.stringify(history.series.errorRate),
    );
    assert.deepEqual(
      history.gears.map((g) => ({ name: g.name, node: g.node })),
      [{ name: usage.memory.labels.gear, node }],
    );
    assert.equal(history.gears[0].cpuPercent.length, history.gears[0].memoryBytes.length);

    // minutes is 1 to 60; the history is the app's, for those who may read it.
    for (const bad of ['0', '61', '1.5', 'ten']) {
      const res = await p.api('GET', `/domains/obs/apps/site/metrics?minutes=${bad}`);
      assert.equal(res.status, 400, `minutes=${bad}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.details[0].pointer, '?minutes');
      assert.match(res.body.message, /minutes/);
    }
    assert.equal((await p.api('GET', '/domains/obs/apps/site/metrics', undefined, null)).status, 401);
    assert.equal((await p.api('GET', '/domains/obs/apps/nosuchapp/metrics')).status, 404);

    // The history is in Redis, not in the broker that wrote it: another broker of the platform answers the same.
    const port = await freePort();
    const second = await p.startBroker(port);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/domains/obs/apps/site/metrics?minutes=5`, { headers: { authorization: `Bearer ${p.token}` } });
      assert.equal(res.status, 200);
      const other = (await res.json()) as typeof history;
      assert.ok(
        other.series.requestsPerSecond.some(([, v]) => v > 0),
        JSON.stringify(other.series),
      );
      assert.deepEqual(
        other.gears.map((g) => g.name),
        [usage.memory.labels.gear],
      );
    } finally {
      await second.kill();
      p.brokers.delete(port);
    }

    // The CLI's table of the latest values: the app's traffic, and its gear with its node.
    const home = mkdtempSync(join(tmpdir(), 'observe-cli-'));
    try {
      assert.equal((await runCli(p, home, ['login', '--password-stdin'], `${p.adminPassword}\n`)).code, 0);
      const cli = await runCli(p, home, ['app', 'metrics', 'site', '-d', 'obs']);
      assert.equal(cli.code, 0, cli.stderr);
      assert.match(cli.stdout, /REQUESTS\/S +RESPONSE TIME +ERRORS +AT/);
      assert.match(cli.stdout, /\d+ ms +0\.0 %/);
      assert.match(cli.stdout, new RegExp(`${usage.memory.labels.gear} +${node} +\\d+\\.\\d % +\\d+\\.\\d MiB`));
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('is live while it answers, and ready only while Redis answers: 503 naming Redis, then ready again', async () => {
    assert.deepEqual((await p.api('GET', '/readyz', undefined, null)).body, { status: 'ready', postgres: 'up', redis: 'up' });
    // A broker of its own whose Redis is a relay this test cuts; the shared Redis is never touched.
    const relay = new RedisRelay(await freePort());
    await relay.open();
    const password = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379').password;
    const q = await Platform.start('observe-redis', {}, { env: { REDIS_URL: `redis://${password ? `:${password}@` : ''}127.0.0.1:${relay.port}` } });
    try {
      assert.equal((await q.api('GET', '/readyz', undefined, null)).status, 200);
      await relay.cut();
      const unready = await eventually('readyz to say Redis is down', async () => {
        const r = await q.api('GET', '/readyz', undefined, null);
        return r.status === 503 ? r : null;
      });
      assert.equal(unready.body.redis, 'down');
      assert.equal(unready.body.postgres, 'up');
      assert.match(unready.body.message, /Redis does not answer/);
      assert.deepEqual((await q.api('GET', '/livez', undefined, null)).body, { status: 'live' });
      // healthz keeps its shape, and says the same.
      const health = await q.api('GET', '/healthz', undefined, null);
      assert.equal(health.status, 503);
      assert.equal(health.body.redis, 'down');
      assert.equal(health.body.status, 'degraded');
      await relay.open();
      await eventually('readyz to be ready again', async () => (await q.api('GET', '/readyz', undefined, null)).status === 200, 30_000);
    } finally {
      await relay.cut();
      await q.stop();
    }
  });
});
