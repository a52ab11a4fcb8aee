import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { eventually, type Platform, ROOT } from '../test/support/platform';

const run = promisify(execFile);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const ROUNDS = 3;

/** The single-service figure: the Express getting-started app of the buildpack tests. */
const EXPRESS = join(ROOT, 'test/fixtures/apps/express-hello');
/** The app of several services of the end-to-end test: an API, an internal service and a worker, each a Node.js folder. */
const SERVICES = join(ROOT, 'test/fixtures/services-app');

/**
 * The four services, each built from its folder on the runtime detected there: the fixture's API (whose Procfile's
 * release line runs once per deployment in its image), its internal service and worker, and a second worker; beside
 * PostgreSQL and Valkey. No cron entry.
 */
const DESCRIPTOR = `name: multi
cartridges: [postgresql-17, valkey-8]
services:
  api:
    kind: web
    build: ./api
    env:
      INTERNAL_URL: http://internal:5000
    dependsOn: [postgresql-17, valkey-8, internal]
  internal:
    kind: internal
    build: ./internal
    port: 5000
  worker:
    kind: worker
    build: ./worker
    dependsOn: [postgresql-17, valkey-8]
  mailer:
    kind: worker
    build: ./mailer
`;

/** The fourth service: a worker that says which release it is and waits. */
const mailer = (version: string) => `console.log('mailer ${version} started');\nsetInterval(() => undefined, 60_000);\n`;

interface Gear {
  service?: string;
  release: number | null;
  state: string;
}

/** The steps of the app's latest deployment's operation, each with its time since `wall` (ms). */
async function stepsOf(p: Platform, app: string, wall: number): Promise<{ ms: number; text: string }[]> {
  const [latest] = (await p.api('GET', `/domains/bench/apps/${app}/deployments`)).body as { operation: string | null }[];
  if (!latest?.operation) return [];
  const op = (await p.api('GET', `/operations/${latest.operation}`)).body as { steps: { at: string; text: string }[] };
  return op.steps.map((s) => ({ ms: Date.parse(s.at) - wall, text: s.text }));
}

/** BENCH_STEPS=1: where the time of a push went: each step's time since the push began, and the moment everything served. */
function printSteps(steps: { ms: number; text: string }[], app: string, version: string, served: number): void {
  const at = (t: number) => `+${(t / 1000).toFixed(1).padStart(5)} s`;
  console.error(`${app} ${version}:`);
  for (const s of steps) console.error(`  ${at(s.ms)}  ${s.text}`);
  console.error(`  ${at(served)}  every service serves the new release`);
}

/**
 * Two parts of a push of several services that a push of one has not, read from its operation's steps: the
 * Procfile's release process (from its start to its end), and the wait for the workers to keep running for their
 * settle time after the routed services passed their checks (from the last "healthy" of a web or internal service
 * to "release N is serving").
 */
export function extraParts(steps: readonly { ms: number; text: string }[]): { releaseMs: number; settleWaitMs: number } | null {
  const find = (re: RegExp) => steps.find((s) => re.test(s.text))?.ms;
  const releaseFrom = find(/^running the Procfile's release process/);
  const releaseTo = find(/^the Procfile's release process succeeded/);
  const serving = find(/^release \d+ is serving/);
  const routed = steps.filter((s) => /^service \S+, gear [0-9a-f]{8} is healthy \(\d+ ms\)$/.test(s.text)).map((s) => s.ms);
  if (releaseFrom === undefined || releaseTo === undefined || serving === undefined || routed.length === 0) return null;
  return { releaseMs: releaseTo - releaseFrom, settleWaitMs: Math.max(0, serving - Math.max(...routed)) };
}

/** A repository in a new folder, with `git` bound to it. */
function repository(prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const git = (...args: string[]) => run('git', ['-C', dir, '-c', 'user.email=b@b', '-c', 'user.name=b', ...args]);
  return { dir, git };
}

/**
 * git push → every service of the new release serving, for an app of four services (web, internal and two workers,
 * each built from its folder) on a code-only change of each, beside the single-service figure measured in the same
 * run: the Express app's code-only push. Serving: the web service answers with the new code, and so does the
 * internal service through it, and every service's gears are of the new release and running. Goal: ≤ 1.5× it.
 */
export async function servicesBench(p: Platform, add: (what: string, platform: string, floor: string, ratio: string, goal: string) => void): Promise<void> {
  const single = repository('bench-single-');
  const multi = repository('bench-services-');
  try {
    for (const name of ['single', 'multi']) {
      const created = await p.api('POST', '/domains/bench/apps?wait=60', { name, cartridges: [] });
      if (created.body.operation?.state !== 'succeeded') throw new Error(`the ${name} app was not created: ${JSON.stringify(created.body)}`);
    }

    // The single service: its greeting changed per round.
    const source = readFileSync(join(EXPRESS, 'index.js'), 'utf8');
    cpSync(EXPRESS, single.dir, { recursive: true });
    await single.git('init', '-q', '-b', 'main');
    const pushSingle = async (version: string) => {
      writeFileSync(join(single.dir, 'index.js'), source.replace(/res\.send\('[^']*'\)/, `res.send('${version}')`));
      await single.git('add', '-A');
      await single.git('commit', '-qm', version);
      const wall = Date.now();
      const t0 = performance.now();
      const pushing = single.git('push', '-q', `http://bench:${p.token}@127.0.0.1:${p.port}/git/bench/single.git`, 'main');
      await eventually(
        `the single service to serve ${version}`,
        async () => (await p.viaRouter('single-bench.localhost').catch(() => ({ body: '' }))).body === version,
        300_000,
        20,
      );
      const served = performance.now() - t0;
      await pushing;
      if (process.env.BENCH_STEPS) printSteps(await stepsOf(p, 'single', wall), 'single', version, served);
      return served;
    };

    // The four services: what each says changed per round.
    cpSync(SERVICES, multi.dir, { recursive: true });
    writeFileSync(join(multi.dir, 'gearshift.yml'), DESCRIPTOR);
    mkdirSync(join(multi.dir, 'mailer'));
    writeFileSync(
      join(multi.dir, 'mailer/package.json'),
      JSON.stringify({ name: 'mailer', version: '1.0.0', private: true, scripts: { start: 'node mailer.js' } }),
    );
    await multi.git('init', '-q', '-b', 'main');
    const edit = (file: string, from: RegExp, to: string) => {
      const path = join(multi.dir, file);
      writeFileSync(path, readFileSync(path, 'utf8').replace(from, to));
    };
    let release = 0;
    const extras: { releaseMs: number; settleWaitMs: number }[] = [];
    const pushMulti = async (version: string) => {
      writeFileSync(join(multi.dir, 'api/answer.js'), `module.exports = 'api ${version}';\n`);
      edit('internal/server.js', /internal [\w-]+ says hello/, `internal ${version} says hello`);
      edit('worker/worker.js', /worker [\w-]+'/, `worker ${version}'`);
      writeFileSync(join(multi.dir, 'mailer/mailer.js'), mailer(version));
      await multi.git('add', '-A');
      await multi.git('commit', '-qm', version);
      release++;
      const wall = Date.now();
      const t0 = performance.now();
      const pushing = multi.git('push', '-q', `http://bench:${p.token}@127.0.0.1:${p.port}/git/bench/multi.git`, 'main');
      await eventually(
        `the four services to serve ${version}`,
        async () => {
          const hello = await p.viaRouter('multi-bench.localhost', '/hello').catch(() => ({ body: '' }));
          if (hello.body !== `api ${version} heard: internal ${version} says hello`) return false;
          const gears = ((await p.api('GET', '/domains/bench/apps/multi')).body.gears ?? []) as Gear[];
          const services = gears.filter((g) => g.service);
          return new Set(services.map((g) => g.service)).size === 4 && services.every((g) => g.release === release && g.state === 'running');
        },
        600_000,
        20,
      );
      const served = performance.now() - t0;
      await pushing;
      const steps = await stepsOf(p, 'multi', wall);
      if (process.env.BENCH_STEPS) printSteps(steps, 'multi', version, served);
      const parts = extraParts(steps);
      if (parts) extras.push(parts);
      return served;
    };

    // First pushes (dependencies installed, the multi app shaped by its gearshift.yml) are not measured.
    await pushSingle('first');
    await pushMulti('first');
    const singles: number[] = [];
    const multis: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      singles.push(await pushSingle(`code${i}`));
      multis.push(await pushMulti(`code${i}`));
    }
    add(
      `4 services (web, internal, 2 workers): git push → all serving, code-only (median of ${ROUNDS})`,
      seconds(median(multis)),
      `${seconds(median(singles))} one service`,
      (median(multis) / median(singles)).toFixed(2),
      '≤ 1.50',
    );
    // The measured rounds' (the first push's are left out as above).
    const measured = extras.slice(-ROUNDS);
    if (measured.length > 0)
      add(
        '  of it: the Procfile release step; the wait for the workers to settle (3 s running) after web and internal were healthy',
        `${seconds(median(measured.map((x) => x.releaseMs)))}; ${seconds(median(measured.map((x) => x.settleWaitMs)))}`,
        '-',
        '-',
        'printed',
      );
  } finally {
    rmSync(single.dir, { recursive: true, force: true });
    rmSync(multi.dir, { recursive: true, force: true });
    await p.api('DELETE', '/domains/bench/apps/single?wait=60');
    await p.api('DELETE', '/domains/bench/apps/multi?wait=60');
  }
}
