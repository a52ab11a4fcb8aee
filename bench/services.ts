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

/**
 * BENCH_STEPS=1: where the time of a push went, from its operation's steps: each step's time since the push began,
 * and the moment everything served.
 */
async function printSteps(p: Platform, app: string, version: string, wall: number, served: number): Promise<void> {
  const [latest] = (await p.api('GET', `/domains/bench/apps/${app}/deployments`)).body as { operation: string | null }[];
  if (!latest?.operation) return;
  const op = (await p.api('GET', `/operations/${latest.operation}`)).body as { steps: { at: string; text: string }[] };
  const at = (t: number) => `+${(t / 1000).toFixed(1).padStart(5)} s`;
  console.error(`${app} ${version}:`);
  for (const s of op.steps) console.error(`  ${at(Date.parse(s.at) - wall)}  ${s.text}`);
  console.error(`  ${at(served)}  every service serves the new release`);
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
      if (process.env.BENCH_STEPS) await printSteps(p, 'single', version, wall, served);
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
      if (process.env.BENCH_STEPS) await printSteps(p, 'multi', version, wall, served);
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
  } finally {
    rmSync(single.dir, { recursive: true, force: true });
    rmSync(multi.dir, { recursive: true, force: true });
    await p.api('DELETE', '/domains/bench/apps/single?wait=60');
    await p.api('DELETE', '/domains/bench/apps/multi?wait=60');
  }
}
