import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { loadCatalog } from '@gearshift/cartridges';
import type { App } from './app.entity';
import type { AppCartridge } from './app-cartridge.entity';
import { publishedWarnings } from './gear-specs.service';

const catalog = loadCatalog(join(resolve(__dirname, '../../../../..'), 'cartridges'));

const cartridge = (name: string, at: number, generated: Record<string, string>) =>
  ({ cartridge: name, createdAt: new Date(at), generated, options: {}, supersededBy: null }) as unknown as AppCartridge;

const app = (cartridges: AppCartridge[], env: Record<string, string> = {}) =>
  ({ id: 'a0000000-0000-4000-8000-000000000000', name: 'shop', desiredState: 'started', size: 'small', env, cartridges }) as unknown as App;

describe("the warnings of an app's published variables", () => {
  const pg = (at: number) => cartridge('postgresql-17', at, { POSTGRESQL_USER: 'u', POSTGRESQL_PASSWORD: 'p' });
  const maria = (at: number) => cartridge('mariadb-11.8', at, { MYSQL_USER: 'm', MYSQL_PASSWORD: 'p' });

  it('names the cartridge added first as the one whose value is given, whatever order the rows come in', () => {
    const [w] = publishedWarnings(app([maria(2000), pg(1000)]), 'acme', catalog);
    assert.match(w, /^DATABASE_URL is published by both postgresql-17 and mariadb-11\.8: postgresql-17's is given/);
  });

  it('takes cartridges added together in the order of their names', () => {
    const [w] = publishedWarnings(app([pg(1000), maria(1000)]), 'acme', catalog);
    assert.match(w, /mariadb-11\.8's is given/);
  });

  it("says nothing once the app's own environment chooses, nor for one publisher", () => {
    assert.deepEqual(publishedWarnings(app([pg(1000), maria(2000)], { DATABASE_URL: 'mine' }), 'acme', catalog), []);
    assert.deepEqual(publishedWarnings(app([pg(1000)]), 'acme', catalog), []);
  });
});
