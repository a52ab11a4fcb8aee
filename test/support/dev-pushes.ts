import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { gitPush, gitRepo } from './git';
import { Platform } from './platform';

/**
 * For a describe block whose tests push repositories to apps: a platform (one node and the router) with a domain `dev`,
 * started before its tests and stopped after them with the repositories they made. `p` is the platform once started.
 */
export function devPushes(name: string) {
  let platform: Platform | undefined;
  const repos: string[] = [];
  before(async () => {
    platform = await Platform.start(name, { node1: {} }, { router: true });
    assert.equal((await platform.api('POST', '/domains', { name: 'dev' })).status, 201);
  });
  after(async () => {
    await platform?.stop();
    for (const dir of repos) rmSync(dir, { recursive: true, force: true });
  });
  const p = (): Platform => {
    if (!platform) throw new Error('the platform has not started');
    return platform;
  };
  return {
    p,
    /** A new repository holding `files`, committed on main. */
    repo(files: Record<string, string>): string {
      const dir = gitRepo(name, files);
      repos.push(dir);
      return dir;
    },
    /** Pushes main of `dir` to the app `app` of dev, as the developer dev. */
    push: (dir: string, app: string) => gitPush(dir, `http://dev:${p().token}@127.0.0.1:${p().port}/git/dev/${app}.git`),
    /** An app of dev with no cartridge yet: its first push shapes it. */
    async createEmpty(app: string): Promise<void> {
      const created = await p().api('POST', '/domains/dev/apps?wait=60', { name: app, cartridges: [] });
      assert.equal(created.status, 202, JSON.stringify(created.body));
    },
  };
}
