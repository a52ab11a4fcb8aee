import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import { consoleFiles, isConsolePath } from './console-files';

interface Answer {
  passed: boolean;
  headers: Record<string, string | number>;
  body?: string;
}

function ask(handler: ReturnType<typeof consoleFiles>, method: string, path: string): Answer {
  const answer: Answer = { passed: false, headers: {} };
  const res = {
    setHeader: (name: string, value: string | number) => (answer.headers[name] = value),
    end: (body?: Buffer) => (answer.body = body?.toString()),
  };
  handler({ method, path } as Request, res as unknown as Response, (() => (answer.passed = true)) as NextFunction);
  return answer;
}

describe('the console files', () => {
  it("knows the console's own paths, and no path of the API, git or the metrics", () => {
    for (const path of ['/', '/login', '/new', '/nodes', '/apps', '/apps/dev/web', '/apps/dev/web/', '/assets/index-abc.js']) {
      assert.ok(isConsolePath(path), path);
    }
    for (const path of ['/api/v1/healthz', '/api/docs', '/git/dev/web.git', '/metrics', '/apps/dev', '/apps/dev/web/x', '/favicon.ico', '/nodesx']) {
      assert.ok(!isConsolePath(path), path);
    }
  });

  it('answers the page for its routes, hashed assets with a long cache, and passes everything else on', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gearshift-console-'));
    try {
      mkdirSync(join(dir, 'assets'));
      writeFileSync(join(dir, 'index.html'), '<!doctype html><title>console</title>');
      writeFileSync(join(dir, 'assets', 'index-abc.js'), 'console.log(1)');
      const handler = consoleFiles(dir);

      const page = ask(handler, 'GET', '/apps/dev/web');
      assert.equal(page.passed, false);
      assert.equal(page.body, '<!doctype html><title>console</title>');
      assert.equal(page.headers['cache-control'], 'no-cache');
      assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
      assert.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/);

      const script = ask(handler, 'GET', '/assets/index-abc.js');
      assert.equal(script.body, 'console.log(1)');
      assert.equal(script.headers['content-type'], 'text/javascript; charset=utf-8');
      assert.match(String(script.headers['cache-control']), /max-age=31536000, immutable/);

      assert.equal(ask(handler, 'HEAD', '/').body, undefined);
      assert.ok(ask(handler, 'GET', '/assets/index-old.js').passed, 'an asset of another build is not the page');
      assert.ok(ask(handler, 'POST', '/').passed);
      assert.ok(ask(handler, 'GET', '/api/v1/domains').passed);
      assert.ok(ask(handler, 'GET', '/metrics').passed);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('passes every request on when the console was not built', () => {
    const handler = consoleFiles(join(tmpdir(), 'gearshift-no-console-here'));
    assert.ok(ask(handler, 'GET', '/').passed);
  });
});
