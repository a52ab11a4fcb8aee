import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, gitPush, Platform, ROOT } from './support/platform';

/**
 * Apps written the way developers write them for other platforms, pushed unmodified with git: an Express app, a
 * Procfile whose web command is a binary from node_modules/.bin, a TypeScript app with a build step, a PHP site with
 * .htaccess rewrites, a Yarn app, a Heroku-style Flask app served by gunicorn, and apps created without a web
 * cartridge whose runtime is detected. None of them has a /health route. One platform; the apps are created and
 * pushed concurrently.
 */

const FIXTURES = join(ROOT, 'test/fixtures/apps');

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, '-c', 'user.email=dev@example.com', '-c', 'user.name=dev', ...args], { encoding: 'utf8' });
}

interface Push {
  ok: boolean;
  output: string;
}

/** A GET through the router with the response headers (viaRouter keeps only the body). */
function get(port: number, host: string, path: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** Each fixture, the app it becomes and the cartridges it is created with ([]: the runtime is detected). */
const APPS = {
  express: { fixture: 'express-hello', cartridges: [] as string[] },
  procfile: { fixture: 'procfile-bin', cartridges: ['nodejs-18'] },
  typescript: { fixture: 'typescript-build', cartridges: ['nodejs-18'] },
  php: { fixture: 'php-pretty', cartridges: [] as string[] },
  yarn: { fixture: 'yarn-pinned', cartridges: ['nodejs-18'] },
  python: { fixture: 'python-procfile', cartridges: ['redis-7'] },
  flask: { fixture: 'flask-heroku', cartridges: [] as string[] },
  flask311: { fixture: 'flask-heroku', cartridges: ['python-3.11'] },
  oauth: { fixture: 'flask-missing', cartridges: [] as string[] },
  site: { fixture: 'static-site', cartridges: [] as string[] },
};
type Name = keyof typeof APPS;

describe('buildpack conventions: real apps deploy unmodified', { timeout: 900_000 }, () => {
  let p: Platform;
  const repos = new Map<Name, string>();
  const pushes = new Map<Name, Promise<Push>>();
  const host = (name: Name) => `${name}-dev.localhost`;

  const push = (name: Name): Promise<Push> => gitPush(repos.get(name)!, `http://dev:${p.token}@127.0.0.1:${p.port}/git/dev/${name}.git`);

  /** The push's outcome, and the app's answer at `path` once the router serves the release. */
  const deployed = async (name: Name, path = '/') => {
    const r = await pushes.get(name)!;
    assert.ok(r.ok, r.output);
    const res = await eventually(
      `${name} to answer through the router`,
      async () => {
        const res = await get(p.routerPort, host(name), path);
        return res.status < 500 && res;
      },
      20_000,
      200,
    );
    return { push: r, res };
  };

  before(async () => {
    p = await Platform.start('buildpacks', { node1: {} }, { router: true });
    assert.equal((await p.api('POST', '/domains', { name: 'dev' })).status, 201);
    await Promise.all(
      (Object.keys(APPS) as Name[]).map(async (name) => {
        const res = await p.api('POST', '/domains/dev/apps?wait=180', { name, cartridges: APPS[name].cartridges });
        assert.equal(res.body.operation?.state, 'succeeded', JSON.stringify(res.body));
        const repo = mkdtempSync(join(tmpdir(), `gearshift-${name}-`));
        cpSync(join(FIXTURES, APPS[name].fixture), repo, { recursive: true });
        git(repo, 'init', '-q', '-b', 'main');
        git(repo, 'add', '-A');
        git(repo, 'commit', '-qm', 'initial commit');
        repos.set(name, repo);
      }),
    );
    for (const name of Object.keys(APPS) as Name[]) pushes.set(name, push(name));
  });
  after(async () => {
    await Promise.all([...pushes.values()]);
    await p?.stop();
    for (const repo of repos.values()) rmSync(repo, { recursive: true, force: true });
  });

  it('refuses a scale for an app created without cartridges, naming the field: its web gears come with its code', async () => {
    const bad = await p.api('POST', '/domains/dev/apps', { name: 'nope', cartridges: [], scale: 2 });
    assert.equal(bad.status, 422, JSON.stringify(bad.body));
    assert.equal(bad.body.details[0].pointer, '/scale');
  });

  it('detects Node.js from package.json, installs Express from the npm registry with npm ci, and serves with npm start', async () => {
    const { push: r, res } = await deployed('express');
    assert.equal(res.status, 200, res.body);
    assert.equal(res.body, 'Hello World from express-hello!');
    assert.match(r.output, /-----> detected Node\.js \(package\.json\): the app's web cartridge is nodejs-24/);
    assert.match(r.output, /Node\.js v24\.\d+\.\d+ \(engines\.node ">=16" is satisfied\)/);
    assert.match(r.output, /installing dependencies with npm ci from package-lock\.json, production dependencies only/);
    assert.match(r.output, /start command: npm start \(node index\.js\)/);
    // What a developer reads, not the generated Dockerfile's plumbing.
    assert.doesNotMatch(r.output, /Step \d+\/\d+ :|NODE_EXTRA_CA_CERTS|gearshift-ca|LABEL|^remote: +---> /m);
    assert.match(r.output, /starting the first gears of the app, with release 1/);
    const greet = await get(p.routerPort, host('express'), '/greet/ada');
    assert.equal(JSON.parse(greet.body).greeting, 'Hello, ada!');
    assert.deepEqual((await p.api('GET', '/domains/dev/apps/express')).body.cartridges, ['nodejs-24']);
  });

  it("starts a Procfile's web command, a binary from node_modules/.bin, and its worker as a gear of its own", async () => {
    const { push: r, res } = await deployed('procfile');
    assert.equal(res.status, 200, res.body);
    assert.match(res.body, /Served by http-server from node_modules\/\.bin/);
    assert.match(r.output, /start command: http-server public -p \$PORT --silent \(the Procfile's web process\)/);
    assert.match(r.output, /process worker: node worker\.js \(runs as gears of its own, without a port\)/);
    const gears = (await p.api('GET', '/domains/dev/apps/procfile')).body.gears as { process?: string }[];
    assert.deepEqual(
      gears.map((g) => g.process ?? 'web'),
      ['web', 'worker'],
    );
  });

  it('builds a TypeScript app with its dev dependencies, runs npm run build, then prunes them', async () => {
    const { push: r, res } = await deployed('typescript');
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(JSON.parse(res.body), { app: 'typescript-build', compiled: true, devDependenciesPresent: false });
    assert.match(r.output, /installing dependencies with npm ci from package-lock\.json, with dev dependencies, for the build script/);
    assert.match(r.output, /running the build script: tsc/);
    assert.match(r.output, /removing dev dependencies/);
  });

  it('detects PHP from index.php and honours .htaccess rewrites and headers, with no health file in the tree', async () => {
    const { push: r, res } = await deployed('php', '/articles/42');
    assert.match(r.output, /-----> detected PHP \(index\.php\): the app's web cartridge is php-8.4/);
    assert.equal(res.status, 200, res.body);
    assert.match(res.body, /<h1>Article 42<\/h1>/);
    assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN', 'mod_headers ran the .htaccess Header line');
    const about = await get(p.routerPort, host('php'), '/about');
    assert.match(about.body, /plain PHP site with pretty URLs/);
    const css = await get(p.routerPort, host('php'), '/style.css');
    assert.equal(css.status, 200);
    assert.match(String(css.headers['cache-control']), /max-age=2592000/, 'mod_expires ran the .htaccess Expires lines');
    assert.equal((await get(p.routerPort, host('php'), '/nowhere')).status, 404);
  });

  it('installs a yarn.lock app with Yarn, at the versions the lock file pins', async () => {
    const { push: r, res } = await deployed('yarn');
    assert.equal(res.status, 200, res.body);
    // package.json asks for ^2.1.1, whose newest is later; the lock file says 2.1.2.
    assert.deepEqual(JSON.parse(res.body), { app: 'yarn-pinned', ms: '2.1.2', day: 86400000 });
    assert.match(r.output, /installing dependencies with Yarn 1 from yarn\.lock/);
  });

  it('detects Python beside a service, runs the Procfile with $PORT expanded, and its release command once', async () => {
    const { push: r, res } = await deployed('python', '/hello');
    assert.equal(res.status, 200, res.body);
    assert.equal(res.body, 'python-procfile on port 8080 answered /hello; cache configured\n');
    assert.match(r.output, /-----> detected Python \(pyproject\.toml\): the app's web cartridge is python-3\.13/);
    // The release command runs before the app has a web gear, with what its cartridges publish already.
    assert.match(r.output, /remote: +release: no migrations \(cache configured\)\s/);
  });

  it('deploys again once the repository names its cache in a gearshift.yml, the runtime still detected', async () => {
    await deployed('python', '/hello');
    const repo = repos.get('python')!;
    writeFileSync(join(repo, 'gearshift.yml'), 'name: python\ncartridges: [redis-7]\n');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'describe the app');
    const again = await push('python');
    assert.ok(again.ok, again.output);
    assert.match(again.output, /applying gearshift\.yml/);
    const app = (await p.api('GET', '/domains/dev/apps/python')).body;
    assert.deepEqual([...app.cartridges].sort(), ['python-3.13', 'redis-7']);
    assert.equal(app.release, 2);
  });

  it('runs a Heroku-style Flask app under gunicorn with the Flask and gunicorn Debian ships, saying which pins it does not meet', async () => {
    const { push: r, res } = await deployed('flask');
    assert.equal(res.status, 200, res.body);
    assert.equal(res.body, 'Hello from Flask!');
    // gunicorn binds 0.0.0.0:$PORT by itself: the Procfile names no port.
    assert.deepEqual(JSON.parse((await get(p.routerPort, host('flask'), '/greet/ada')).body), { greeting: 'Hello, ada!', server: 'gunicorn' });
    assert.match(r.output, /-----> detected Python \(requirements\.txt\): the app's web cartridge is python-3\.13/);
    assert.match(r.output, /warning: Flask==3\.0\.3 asked, 3\.1\.\d+ shipped: using 3\.1\.\d+/);
    assert.match(r.output, /warning: gunicorn==22\.0\.0 asked, 23\.\d+\.\d+ shipped: using 23\.\d+\.\d+/);
    // Werkzeug>=3.0 is met, and the Windows-only line does not apply.
    assert.doesNotMatch(r.output, /warning: Werkzeug/);
    assert.match(r.output, /note: requirements\.txt:5: 'pywin32==306 ; sys_platform == "win32"' is not for this environment/);
    assert.match(
      r.output,
      /requirements\.txt: every requirement is shipped by this image \(Debian's packages\): Flask 3\.1\.\d+, gunicorn 23\.\d+\.\d+, Werkzeug 3\.\d+\.\d+/,
    );
  });

  it('runs the same Flask app on python-3.11, whose Debian ships older Flask and gunicorn', async () => {
    const { push: r, res } = await deployed('flask311');
    assert.equal(res.status, 200, res.body);
    assert.equal(res.body, 'Hello from Flask!');
    assert.match(r.output, /warning: Flask==3\.0\.3 asked, 2\.2\.\d+ shipped: using 2\.2\.\d+/);
    assert.match(r.output, /warning: gunicorn==22\.0\.0 asked, 20\.1\.\d+ shipped: using 20\.1\.\d+/);
    // Bookworm's Werkzeug is 2.2: below the >=3.0 asked.
    assert.match(r.output, /warning: Werkzeug>=3\.0 asked, 2\.2\.\d+ shipped: using 2\.2\.\d+/);
    assert.deepEqual((await p.api('GET', '/domains/dev/apps/flask311')).body.cartridges, ['python-3.11']);
  });

  it('refuses a Python app whose requirements the image does not ship, naming exactly those and what to do', async () => {
    const r = await pushes.get('oauth')!;
    assert.equal(r.ok, false, r.output);
    assert.match(r.output, /requirements\.txt: this image does not ship requests-oauthlib==2\.0\.0, and it has no pip to install them/);
    assert.match(r.output, /Vendor pure-Python packages into the repository, or deploy with a Dockerfile/);
    // Flask is shipped: it is not among the missing.
    assert.doesNotMatch(r.output, /does not ship[^\n]*Flask>=2\.2/);
  });

  it('detects a static site from index.html', async () => {
    const { push: r, res } = await deployed('site');
    assert.equal(res.status, 200, res.body);
    assert.match(res.body, /static-site: plain HTML, no build/);
    assert.match(r.output, /-----> detected a static site \(index\.html\): the app's web cartridge is static/);
  });

  it('refuses a push whose runtime cannot be told, naming the files it looks for', async () => {
    const res = await p.api('POST', '/domains/dev/apps?wait=60', { name: 'blank', cartridges: [] });
    assert.equal(res.body.operation?.state, 'succeeded', JSON.stringify(res.body));
    const repo = mkdtempSync(join(tmpdir(), 'gearshift-blank-'));
    try {
      cpSync(join(FIXTURES, 'php-pretty/pages'), repo, { recursive: true });
      git(repo, 'init', '-q', '-b', 'main');
      git(repo, 'add', '-A');
      git(repo, 'commit', '-qm', 'only a page');
      const url = `http://dev:${p.token}@127.0.0.1:${p.port}/git/dev/blank.git`;
      let output = '';
      try {
        output = execFileSync('git', ['-C', repo, 'push', url, 'main'], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, GIT_TERMINAL_PROMPT: '0' },
        });
        assert.fail(`the push was accepted: ${output}`);
      } catch (err) {
        output = String((err as { stderr?: string }).stderr ?? err);
      }
      assert.match(output, /has no web cartridge and its code does not say which runtime it needs: none of composer\.json, package\.json, index\.php/);
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });
});
