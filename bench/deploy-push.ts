import { execFile } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DockerAdapter } from '../apps/node-agent/src/docker.adapter';
import { docker, eventually, type Platform, ROOT } from '../test/support/platform';

const run = promisify(execFile);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** The Express getting-started app of the buildpack tests: package.json, package-lock.json, index.js, no /health. */
const APP = join(ROOT, 'test/fixtures/apps/express-hello');

/** The greeting line of index.js, changed per round: a code-only change. */
const withGreeting = (source: string, version: string) => source.replace(/res\.send\('[^']*'\)/, `res.send('${version}')`);

/** A container of `image` started by hand, with its port published, until it answers `/` (no health route). */
async function rawRun(image: string): Promise<number> {
  const t0 = performance.now();
  const c = await docker.createContainer({
    Image: image,
    Env: ['PORT=8080'],
    ExposedPorts: { '8080/tcp': {} },
    Labels: { 'gearshift.bench': 'raw' },
    HostConfig: { PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] }, Memory: 256 * 1024 * 1024, NanoCpus: 0.5e9 },
  });
  try {
    await c.start();
    const port = (await c.inspect()).NetworkSettings.Ports['8080/tcp']![0].HostPort;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    return performance.now() - t0;
  } finally {
    await c.remove({ force: true });
  }
}

/**
 * git push → serving for a getting-started Express app, pushed into an app created without cartridges (the runtime
 * is detected), first push (express from the npm registry with npm ci) and code-only change, beside the floor: the
 * same app built from the Dockerfile a developer would write and run by hand. The code-only goal is ≤ 2× the floor.
 */
export async function deployPushBench(
  p: Platform,
  nodeImage: string,
  add: (what: string, platform: string, floor: string, ratio: string, goal: string) => void,
): Promise<void> {
  const source = readFileSync(join(APP, 'index.js'), 'utf8');
  const rawDir = mkdtempSync(join(tmpdir(), 'bench-express-raw-'));
  const repo = mkdtempSync(join(tmpdir(), 'bench-express-push-'));
  const git = (...args: string[]) => run('git', ['-C', repo, '-c', 'user.email=b@b', '-c', 'user.name=b', ...args]);
  const adapter = new DockerAdapter();
  try {
    cpSync(APP, rawDir, { recursive: true });
    writeRawNodeApp(rawDir, nodeImage, { dependencies: 'package.json package-lock.json', install: 'npm ci', source: 'index.js', command: ['npm', 'start'] });
    const rawDeploy = async (version: string) => {
      writeFileSync(join(rawDir, 'index.js'), withGreeting(source, version));
      const t0 = performance.now();
      const tag = `gearshift-bench/raw-express:${version}`;
      await adapter.buildImage({ contextDir: rawDir, tag, buildArgs: {}, labels: { 'gearshift.bench': 'raw' } });
      return performance.now() - t0 + (await rawRun(tag));
    };

    const created = await p.api('POST', '/domains/bench/apps?wait=60', { name: 'express', cartridges: [] });
    if (created.body.operation?.state !== 'succeeded') throw new Error(`the express app was not created: ${JSON.stringify(created.body)}`);
    cpSync(APP, repo, { recursive: true });
    await git('init', '-q', '-b', 'main');
    /** From `git push` to the router answering with the new code. */
    const push = async (version: string) => {
      writeFileSync(join(repo, 'index.js'), withGreeting(source, version));
      await git('add', '-A');
      await git('commit', '-qm', version);
      const t0 = performance.now();
      const pushing = git('push', '-q', `http://bench:${p.token}@127.0.0.1:${p.port}/git/bench/express.git`, 'main');
      await eventually(
        `${version} to be served`,
        async () => (await p.viaRouter('express-bench.localhost').catch(() => ({ body: '' }))).body === version,
        300_000,
        20,
      );
      const served = performance.now() - t0;
      await pushing;
      return served;
    };

    const rawFirst = await rawDeploy('first');
    const first = await push('first');
    add(
      'Express getting-started: git push → serving, first push (detect, npm ci)',
      seconds(first),
      `${seconds(rawFirst)} docker build + run`,
      (first / rawFirst).toFixed(2),
      '',
    );
    const raw: number[] = [];
    const pushed: number[] = [];
    for (let i = 0; i < 3; i++) {
      raw.push(await rawDeploy(`code${i}`));
      pushed.push(await push(`code${i}`));
    }
    add(
      '  same, code-only change (median of 3)',
      seconds(median(pushed)),
      `${seconds(median(raw))} docker build + run`,
      (median(pushed) / median(raw)).toFixed(2),
      '≤ 2.00',
    );
  } finally {
    rmSync(rawDir, { recursive: true, force: true });
    rmSync(repo, { recursive: true, force: true });
    for (const img of await docker.listImages({ filters: JSON.stringify({ label: ['gearshift.bench=raw'] }) }))
      await docker
        .getImage(img.Id)
        .remove({ force: true })
        .catch(() => undefined);
    await p.api('DELETE', '/domains/bench/apps/express?wait=60');
  }
}

/**
 * The raw floor's recipe: the Dockerfile a developer would write for a Node app on the cartridge's image, with the
 * host's CA bundle for npm, written into `dir` beside the app.
 */
export function writeRawNodeApp(dir: string, nodeImage: string, o: { dependencies: string; install: string; source: string; command: string[] }): void {
  if (existsSync('/etc/ssl/certs/ca-certificates.crt')) copyFileSync('/etc/ssl/certs/ca-certificates.crt', join(dir, 'ca.crt'));
  else writeFileSync(join(dir, 'ca.crt'), '');
  writeFileSync(
    join(dir, 'Dockerfile'),
    [
      `FROM ${nodeImage}`,
      'USER root',
      'WORKDIR /opt/app',
      'RUN find . -mindepth 1 -delete && chown gear .',
      'COPY ca.crt /tmp/ca.crt',
      'USER gear',
      `COPY --chown=gear ${o.dependencies} ./`,
      `RUN NODE_EXTRA_CA_CERTS=/tmp/ca.crt npm_config_cafile=/tmp/ca.crt ${o.install} --omit=dev --no-audit --no-fund --loglevel=error`,
      `COPY --chown=gear ${o.source} ./`,
      `CMD ${JSON.stringify(o.command)}`,
      '',
    ].join('\n'),
  );
}
