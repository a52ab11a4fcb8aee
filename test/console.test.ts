import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core';
import { eventually, Platform, ROOT } from './support/platform';

/**
 * The web console in a real browser (Debian's chromium, driven by playwright-core): a user logs in, creates an app
 * from the catalogue and watches it run, opens its URL, scales it, deploys a folder and rolls back, follows its logs,
 * and looks at the nodes, with no error in the browser's console. Each page is saved as a screenshot.
 */

const CHROMIUM = process.env.GEARSHIFT_CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p)) ?? '/usr/bin/chromium';
const SHOTS = join(process.env.GEARSHIFT_TEST_LOG_DIR ?? join(ROOT, 'test-output'), 'console');

/** A Node app that answers with its version and logs each request it serves. */
function appFolder(version: string): string {
  const dir = mkdtempSync(join(tmpdir(), `gearshift-console-${version}-`));
  const folder = join(dir, 'site');
  mkdirSync(folder);
  writeFileSync(join(folder, 'package.json'), JSON.stringify({ name: 'console-site', version: '1.0.0', scripts: { start: 'node server.js' } }, null, 2));
  writeFileSync(
    join(folder, 'server.js'),
    `require('http').createServer((req, res) => {
  console.log('served ' + req.url);
  res.end('console ${version}\\n');
}).listen(process.env.PORT || 8080);
`,
  );
  return folder;
}

describe('the web console', { timeout: 900_000 }, () => {
  let p: Platform;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];
  let networkChanged = false;
  const folders: string[] = [];
  const domain = 'web';
  const app = 'hello';
  /** Requests refused on purpose: a wrong password, a bad app name, and the charts' metrics while there are none (404, "no data yet"). */
  const expectedRefusals: [number, string][] = [
    [401, '/api/v1/auth/login'],
    [400, `/api/v1/domains/${domain}/apps`],
    [404, `/api/v1/domains/${domain}/apps/${app}/metrics`],
  ];

  const shot = async (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const activeRelease = () => page.locator('table.deployments tr:has(.badge:text-is("active"))').getAttribute('data-release');
  /**
   * Until the app's operations have all ended, on the page and in the API (the page reads them every 3 s, so an
   * operation begun since may not be on it yet): the API takes one change to an app at a time.
   */
  const settled = async () =>
    eventually(
      'no operation of the app under way',
      async () =>
        (await page.locator('ol.timeline > li.op-queued, ol.timeline > li.op-running').count()) === 0 &&
        ((await p.api('GET', `/domains/${domain}/apps/${app}/operations`)).body as { state: string }[]).every(
          (o) => o.state !== 'queued' && o.state !== 'running',
        ),
      300_000,
      1000,
    );
  const viaRouter = async () => (await p.viaRouter(`${app}-${domain}.localhost`, '/')).body.trim();
  /**
   * Clicks a button of the deployments, then waits until `done`. A refusal the page shows ends the test at once with
   * its words, but for two the test cannot rule out: a request Chromium dropped because the host's network changed
   * (Docker's, for the tests beside this one), and the app being busy with an operation the platform began itself.
   * After either, once the app is settled, the click is made again unless the first one did its work after all.
   */
  const act = async (what: string, click: () => Promise<void>, done: () => Promise<boolean>) => {
    const refusal = page.locator('section[aria-labelledby="deployments"] .error[role=alert]');
    for (let attempt = 1; ; attempt++) {
      networkChanged = false;
      await click();
      // The refusal of the click before goes as this one starts.
      if (attempt > 1) await refusal.waitFor({ state: 'detached', timeout: 10_000 });
      const outcome = await eventually(
        what,
        async () => ((await done()) ? 'done' : (await refusal.count()) > 0 && `refused: ${await refusal.first().innerText()}`),
        300_000,
        1000,
      ).catch(async (err: Error) => {
        const ops = await p.api('GET', `/domains/${domain}/apps/${app}/operations`);
        const recent = (ops.body as { kind: string; state: string; error?: string }[])
          .slice(0, 4)
          .map((o) => `${o.kind} ${o.state}${o.error ? `: ${o.error}` : ''}`);
        throw new Error(
          `${err.message}\nthe deployments read: ${await page.locator('table.deployments').innerText()}\nthe latest operations: ${recent.join('; ')}\n${p.logs()}`,
        );
      });
      if (outcome === 'done') return;
      const busy = /busy with operation/.test(outcome);
      const again = networkChanged || busy;
      // The browser noted the refusal (409) as an error; it was answered on the page, and is asked again.
      if (busy) errors.splice(0, errors.length, ...errors.filter((e) => !e.includes('status of 409')));
      console.log(`# ${what}: ${outcome}${again ? '; once the app is settled, again' : ''}`);
      assert.ok(again && attempt < 4, `${what}: ${outcome}`);
      await settled();
      if (await done()) return;
    }
  };

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    p = await Platform.start('console', { node1: {} }, { router: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-proxy-server'] });
    const context = await browser.newContext({ baseURL: p.baseUrl, viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(30_000);
    const record = (msg: ConsoleMessage) => {
      if (msg.type() !== 'error') return;
      // Chromium drops the requests it has in flight when the host's network interfaces change, as Docker's do while
      // other tests run beside this one: the browser's doing, not the console's. open() loads the page again.
      if (msg.text().includes('net::ERR_NETWORK_CHANGED')) {
        networkChanged = true;
        return;
      }
      // The browser notes every refused request; those the test asks for on purpose are answered on the page.
      if (expectedRefusals.some(([status, path]) => msg.text().includes(`status of ${status}`) && new URL(msg.location().url).pathname === path)) return;
      errors.push(`${msg.text()} (${msg.location().url})`);
    };
    context.on('console', record);
    context.on('weberror', (err) => errors.push(`uncaught: ${err.error().message}`));
  });

  /** Opens `path` in the page, again when Chromium dropped a request of it because the host's network changed. */
  const open = async (path: string) => {
    for (let attempt = 1; ; attempt++) {
      networkChanged = false;
      await page.goto(path, { waitUntil: 'load' });
      if (!networkChanged) return;
      console.log(`# the host's network changed while ${path} loaded (attempt ${attempt}); loading it again`);
      assert.ok(attempt < 5, `the host's network kept changing while ${path} loaded`);
    }
  };

  after(async () => {
    await browser?.close();
    for (const f of folders) rmSync(join(f, '..'), { recursive: true, force: true });
    await p?.stop();
  });

  it('serves the console at / with a CSP, and its hashed assets for a year', async () => {
    const res = await fetch(`${p.baseUrl}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    const html = await res.text();
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(asset, html);
    const js = await fetch(`${p.baseUrl}${asset}`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('cache-control') ?? '', /immutable/);
    // Its own routes answer the same page; the API, its OpenAPI page and unknown paths keep their answers.
    assert.equal((await fetch(`${p.baseUrl}/apps/${domain}/${app}`)).status, 200);
    assert.equal((await fetch(`${p.baseUrl}/nodes`)).headers.get('content-security-policy'), res.headers.get('content-security-policy'));
    assert.equal((await fetch(`${p.baseUrl}/api/v1/healthz`)).status, 200);
    assert.equal((await fetch(`${p.baseUrl}/api/docs-json`)).status, 200);
    assert.equal((await fetch(`${p.baseUrl}/no-such-page`)).status, 404);
    assert.equal((await fetch(`${p.baseUrl}/assets/missing.js`)).status, 404);
  });

  it("logs in, after showing the API's words for a wrong password", async () => {
    await open('/');
    await page.fill('#username', 'admin');
    await page.fill('#password', 'not-the-password');
    await page.click('button[type=submit]');
    await page.locator('.error[role=alert]').waitFor();
    await shot('login');
    // From the keyboard alone: type the password and press Enter.
    await page.fill('#password', '');
    await page.focus('#password');
    await page.keyboard.type(p.adminPassword);
    await page.keyboard.press('Enter');
    await page.locator('header.top nav').waitFor();
    await page.locator('h1', { hasText: 'Apps' }).waitFor();
    await shot('apps-empty');
  });

  it('creates an app from the catalogue and watches it become running', async () => {
    await page.click('header.top >> text=Create app');
    await page.locator('[data-cartridge="nodejs-24"]').waitFor();
    await page.selectOption('#domain', '');
    // A name the API refuses: its message stands beside the field it names.
    await page.fill('#new-domain', domain);
    await page.fill('#app-name', 'Not_A_Name');
    await page.click('[data-cartridge="nodejs-24"]');
    await page.click('button:text-is("Create app")');
    await page.locator('#app-name-error').waitFor();
    await shot('create-app');
    await page.selectOption('#domain', domain);
    await page.fill('#app-name', app);
    await page.click('button:text-is("Create app")');
    await page.waitForURL(`**/apps/${domain}/${app}`);
    await page.locator('.heading .badge:text-is("running")').waitFor({ timeout: 240_000 });
    // The charts draw the app's metrics, or say there are none yet.
    await eventually(
      'the charts to draw or say "no data yet"',
      async () => (await page.locator('#charts + .charts figure.chart:has(svg, p)').count()) === 3,
      30_000,
      500,
    );
    await shot('app-running');
    await page.click('header.top >> text=Apps');
    await page.locator(`tr[data-app="${app}"] .badge:text-is("running")`).first().waitFor();
    await shot('apps');
  });

  it("opens the app's URL", async () => {
    await page.click(`tr[data-app="${app}"] a[href^="/apps/"]`);
    const [site] = await Promise.all([page.context().waitForEvent('page'), page.click('a.app-url')]);
    await site.waitForLoadState();
    assert.match(site.url(), new RegExp(`^http://${app}-${domain}\\.localhost:${p.routerPort}/`));
    const text = await site.locator('body').innerText();
    assert.ok(text.trim().length > 0, 'the app answered with an empty page');
    await site.screenshot({ path: join(SHOTS, 'app-url.png') });
    await site.close();
  });

  it('scales the app to 2 and shows two gears', async () => {
    await page.fill('#replicas', '2');
    await page.click('button:text-is("Scale")');
    await eventually(
      'two running gears on the page',
      async () => (await page.locator('table.gears tbody tr:has(.badge:text-is("running"))').count()) === 2,
      240_000,
      500,
    );
    await settled();
    await shot('app-scaled');
  });

  it('deploys a folder twice and rolls back to the first', async () => {
    const releases: Record<string, string> = {};
    for (const version of ['v1', 'v2']) {
      const folder = appFolder(version);
      folders.push(folder);
      await act(
        `${version} to be deployed`,
        async () => {
          await page.setInputFiles('#deploy-folder', folder);
          await page.click('button:text-is("Upload and deploy")');
        },
        async () => (await viaRouter()) === `console ${version}`,
      );
      await settled();
      releases[version] = (await activeRelease()) ?? '';
      assert.match(releases[version], /^\d+$/, `no release is active after deploying ${version}`);
    }
    assert.ok(Number(releases.v2) > Number(releases.v1), `release ${releases.v2} of v2 is not newer than release ${releases.v1} of v1`);
    await shot('app-deployed');
    await act(
      `release ${releases.v1} to be active again`,
      () => page.click(`button:text-is("Roll back to ${releases.v1}")`),
      async () => (await activeRelease()) === releases.v1,
    );
    await eventually('the router to answer v1 again', async () => (await viaRouter()) === 'console v1', 120_000, 500);
    await shot('app-rolled-back');
  });

  it('follows the logs and shows a new line as it is written', async () => {
    await page.click('button:text-is("Follow logs")');
    await page.locator('button:text-is("Stop following")').waitFor();
    const probe = `/console-probe-${randomBytes(4).toString('hex')}`;
    await eventually(
      'the new log line on the page',
      async () => {
        await p.viaRouter(`${app}-${domain}.localhost`, probe);
        return (await page.locator('pre.logs').innerText()).includes(`served ${probe}`);
      },
      60_000,
      1000,
    );
    await page.locator('#operations').scrollIntoViewIfNeeded();
    await shot('app-logs');
    await page.click('button:text-is("Stop following")');
  });

  it('reads on a phone', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await shot('app-phone');
    // Evaluated in the page, given as text: the test itself is compiled without the DOM's types.
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.ok(overflow <= 1, `the page is ${overflow}px wider than a phone's screen`);
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('lists the node on the nodes page', async () => {
    await page.click('header.top >> text=Nodes');
    const node = page.locator(`article[data-node="${p.nodeName('node1')}"]`);
    await node.waitFor();
    await node.locator('summary').click();
    assert.equal(await node.locator(`a[href="/apps/${domain}/${app}"]`).count(), 2);
    await shot('nodes');
  });

  it('wrote nothing to the browser console', () => {
    assert.deepEqual(errors, []);
  });
});
