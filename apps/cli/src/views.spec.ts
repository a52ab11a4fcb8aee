import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { App, AppOperation, Gear } from './api-types';
import { appTable, noDomainMessage, operationTable, showApp } from './views';

const gear = (id: string, cartridge: string, more: Partial<Gear> = {}): Gear => ({
  id,
  cartridge,
  node: 'node1',
  state: 'running',
  release: 3,
  message: null,
  ports: {},
  endpoints: {},
  createdAt: '2026-11-30T10:00:00.000Z',
  ...more,
});

const app = (more: Partial<App>): App => ({
  name: 'shop',
  domain: 'dev',
  url: 'http://shop-dev.localhost:8000',
  state: 'started',
  status: 'running',
  size: 'small',
  scale: 0,
  cartridges: [],
  autoscale: null,
  idleAfterSeconds: null,
  health: null,
  env: {},
  release: 3,
  gears: [],
  createdAt: '2026-11-30T10:00:00.000Z',
  ...more,
});

describe('gearshift app show', () => {
  it('names the service each gear runs, and counts no web gears for an app of services', () => {
    const out = showApp(
      app({
        cartridges: ['postgresql-15'],
        services: [
          { name: 'api', scale: 1, gears: 1, release: 3, cartridge: 'nodejs-24' },
          { name: 'jobs', scale: 1, gears: 1, release: 3, cartridge: 'nodejs-24' },
        ],
        gears: [
          gear('15d6efcf-0000', 'nodejs-24', { service: 'api' }),
          gear('27aa0b1c-0000', 'nodejs-24', { service: 'jobs' }),
          gear('3c00ffee-0000', 'postgresql-15'),
        ],
      }),
    );
    assert.match(out, /^ {2}size {8}small$/m);
    assert.doesNotMatch(out, /web gear/);
    assert.match(out, /^GEAR {6}SERVICE {2}CARTRIDGE/m);
    assert.match(out, /^15d6efcf {2}api {6}nodejs-24/m);
    assert.match(out, /^27aa0b1c {2}jobs {5}nodejs-24/m);
    assert.match(out, /^3c00ffee {2}- {8}postgresql-15/m);
  });

  it('shows an app of one web cartridge as before', () => {
    const out = showApp(app({ cartridges: ['nodejs-24'], scale: 2, gears: [gear('15d6efcf-0000', 'nodejs-24'), gear('27aa0b1c-0000', 'nodejs-24')] }));
    assert.match(out, /^ {2}size {8}small, 2 web gear\(s\)$/m);
    assert.match(out, /^GEAR {6}CARTRIDGE/m);
  });
  it("shows an autoscaled service's bounds, and a variable two cartridges publish", () => {
    const out = showApp(
      app({
        cartridges: ['mariadb-11.8', 'postgresql-17'],
        warnings: ["DATABASE_URL is published by both postgresql-17 and mariadb-11.8: postgresql-17's is given (the cartridge added first)"],
        services: [
          {
            name: 'api',
            scale: 2,
            gears: 2,
            release: 3,
            cartridge: 'nodejs-24',
            autoscale: { min: 1, max: 4, targetConcurrency: 10 },
            hosts: ['api.shop.test'],
          },
        ],
      }),
    );
    assert.match(out, /^ {2}service {5}api: 2 of 2 gear\(s\), release 3 \(nodejs-24\), autoscaling 1\.\.4, at api\.shop\.test$/m);
    assert.match(out, /^ {2}warning {5}DATABASE_URL is published by both postgresql-17 and mariadb-11\.8: postgresql-17's is given/m);
  });
});

describe('gearshift apps list and operations', () => {
  it("counts an app of services by its services' gears, not as scale 0", () => {
    const out = appTable([
      app({
        name: 'board',
        services: [
          { name: 'web', scale: 1, gears: 1, release: 1, cartridge: null },
          { name: 'worker', scale: 2, gears: 2, release: 1, cartridge: null },
        ],
      }),
      app({ name: 'shop', cartridges: ['nodejs-24'], scale: 2 }),
      app({ name: 'empty' }),
    ]);
    assert.match(out, /^board +running +web:1,worker:2 /m);
    assert.match(out, /^shop +running +nodejs-24 +2 /m);
    assert.match(out, /^empty +running +0 /m);
  });

  it("counts an app's Procfile workers beside its web gears", () => {
    const out = appTable([
      app({ name: 'shop', cartridges: ['nodejs-24'], scale: 2, processes: { worker: 1, clock: 1 } }),
      app({ name: 'blog', cartridges: ['nodejs-24'], scale: 1, processes: {} }),
      app({
        name: 'board',
        cartridges: ['nodejs-24'],
        scale: 1,
        processes: { worker: 2 },
        services: [{ name: 'api', scale: 1, gears: 1, release: 1, cartridge: null }],
      }),
    ]);
    assert.match(out, /^shop +running +nodejs-24 +web:2,clock:1,worker:1 /m);
    assert.match(out, /^blog +running +nodejs-24 +1 /m);
    assert.match(out, /^board +running +nodejs-24 +web:1,worker:2,api:1 /m);
  });

  it('says why an operation failed, on one line, shortened', () => {
    const op = (state: AppOperation['state'], error: string | null): AppOperation => ({
      id: 'o',
      kind: 'app.deploy',
      state,
      by: 'dev',
      createdAt: '2026-11-30T10:00:00.000Z',
      steps: [{ at: '2026-11-30T10:00:00.000Z', text: 'deploy 1a2b' }],
      error,
    });
    const out = operationTable([op('failed', `the build of web failed: RUN exited with code 3${' and more'.repeat(20)}\nstep output`), op('succeeded', null)]);
    assert.match(out, /WHY/);
    assert.match(out, /failed +deploy 1a2b +the build of web failed: RUN exited with code 3 and more/);
    assert.doesNotMatch(out, /step output/);
    assert.match(out, /…$/m);
  });

  it('ends a reason with … when lines after its first were cut, and shows it whole with --wide', () => {
    const failed: AppOperation = {
      id: 'o',
      kind: 'app.restart',
      state: 'failed',
      by: 'dev',
      createdAt: '2026-11-30T10:00:00.000Z',
      steps: [{ at: '2026-11-30T10:00:00.000Z', text: 'restart' }],
      error: 'gear 1a2b did not get healthy\nits last output: listen EADDRINUSE',
    };
    const out = operationTable([failed]);
    assert.match(out, /failed +restart +gear 1a2b did not get healthy…$/m);
    assert.match(out, /--wide to see it whole/);
    const wide = operationTable([failed], true);
    assert.match(wide, /gear 1a2b did not get healthy ⏎ its last output: listen EADDRINUSE$/m);
    assert.doesNotMatch(wide, /…|cut to fit/);
  });

  it('says why a stopped app is stopped', () => {
    const out = showApp(app({ status: 'stopped', stoppedBecause: 'its first deployment (#1) failed: the build of web failed' }));
    assert.match(out, /^ {2}stopped {5}its first deployment \(#1\) failed: the build of web failed$/m);
  });

  it('points a user without a default domain to the domains they have', () => {
    assert.match(noDomainMessage([]), /gearshift domains create NAME/);
    assert.match(noDomainMessage(['dev']), /gearshift domains use dev/);
    assert.doesNotMatch(noDomainMessage(['dev']), /domains create/);
    assert.match(noDomainMessage(['dev', 'ops']), /one of yours \(dev, ops\) with: gearshift domains use NAME/);
  });
});
