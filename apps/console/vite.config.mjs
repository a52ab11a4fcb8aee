// The console is built with Vite and Preact: Vite gives a fast, well-kept build to hashed static files, and Preact
// gives components and hooks in about 4 kB, so the broker serves a small page that loads quickly on a phone.
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../../dist/console', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    // The broker's CSP allows scripts of its own origin only: no inline module preload helper.
    modulePreload: { polyfill: false },
  },
});
