import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pgTarget } from './settings';

describe("the backup tool's database target", () => {
  it('gives pg_dump a socket URL without its password, and the maintenance database on the same socket', () => {
    const pg = pgTarget('postgresql://gearshift:s%3Acret@/gearshift?host=/var/run/postgresql');
    assert.equal(pg.database, 'gearshift');
    assert.equal(pg.url, 'postgresql://gearshift@/gearshift?host=/var/run/postgresql');
    assert.equal(pg.env.PGPASSWORD, 's:cret');
    assert.equal(pg.maintenanceUrl, 'postgresql://gearshift:s%3Acret@/postgres?host=/var/run/postgresql');
  });

  it('keeps a percent-encoded socket as it is', () => {
    const pg = pgTarget('postgres://gearshift:pw@%2Frun%2Fpostgresql:5433/platform');
    assert.deepEqual(
      [pg.database, pg.url, pg.maintenanceUrl],
      ['platform', 'postgres://gearshift@%2Frun%2Fpostgresql:5433/platform', 'postgres://gearshift:pw@%2Frun%2Fpostgresql:5433/postgres'],
    );
  });

  it('gives a TCP URL as before: host, port and query kept, password in PGPASSWORD alone', () => {
    const pg = pgTarget('postgresql://gearshift:pw@db.internal:6432/gearshift?sslmode=require');
    assert.equal(pg.database, 'gearshift');
    assert.equal(pg.url, 'postgresql://gearshift@db.internal:6432/gearshift?sslmode=require');
    assert.ok(!pg.url.includes('pw'));
    assert.equal(pg.env.PGPASSWORD, 'pw');
    assert.equal(pg.maintenanceUrl, 'postgresql://gearshift:pw@db.internal:6432/postgres?sslmode=require');
  });
});
