import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { NextFunction, Request, Response } from 'express';

/** Where `npm run build` puts the console (apps/console, built by Vite): dist/console beside dist/apps. */
export const CONSOLE_DIR = join(__dirname, '../../../../console');

/** The console's own pages: the broker answers each with the same page, and the page draws the route. */
const PAGES = /^\/(?:login|new|nodes|apps(?:\/[^/]+\/[^/]+)?)?\/?$/;

export function isConsolePath(path: string): boolean {
  return PAGES.test(path) || path.startsWith('/assets/');
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

/**
 * Scripts, styles and API calls from this origin only: the built page has no inline script or style, so nothing
 * else is needed. Images may be data: URLs (the favicon); the page may not be framed (clickjacking).
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

interface ConsoleFile {
  body: Buffer;
  type: string;
}

/**
 * The console's files, read once at start (they are a few tens of kilobytes). Hashed assets are cached for a year,
 * since a new build gives them new names; the page itself is checked each time, so a new build shows at once.
 * Answers nothing (next) when the console was not built, and for every path outside its pages and assets: the API,
 * its OpenAPI page, git and /metrics keep their own paths.
 */
export function consoleFiles(dir = CONSOLE_DIR): (req: Request, res: Response, next: NextFunction) => void {
  const indexFile = join(dir, 'index.html');
  if (!existsSync(indexFile)) return (_req, _res, next) => next();
  const index = readFileSync(indexFile);
  const assets = new Map<string, ConsoleFile>();
  const assetsDir = join(dir, 'assets');
  if (existsSync(assetsDir)) {
    for (const name of readdirSync(assetsDir)) {
      assets.set(`/assets/${name}`, { body: readFileSync(join(assetsDir, name)), type: TYPES[extname(name)] ?? 'application/octet-stream' });
    }
  }
  return (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const path = req.path;
    if (!isConsolePath(path)) return next();
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'same-origin');
    if (path.startsWith('/assets/')) {
      const file = assets.get(path);
      // An asset of another build: a 404, never the page in its place (a script would fail to parse).
      if (!file) return next();
      res.setHeader('cache-control', 'public, max-age=31536000, immutable');
      res.setHeader('content-type', file.type);
      res.setHeader('content-length', file.body.length);
      res.end(req.method === 'HEAD' ? undefined : file.body);
      return;
    }
    res.setHeader('cache-control', 'no-cache');
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.setHeader('content-security-policy', CONSOLE_CSP);
    res.setHeader('x-frame-options', 'DENY');
    res.setHeader('content-length', index.length);
    res.end(req.method === 'HEAD' ? undefined : index);
  };
}
