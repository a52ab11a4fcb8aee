import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'pg';
import { databaseUrlSetting, DEFAULT_DATABASE_URL, parsePostgresUrl, withoutPostgresPassword, withPostgresDatabase } from './postgres-url';
import { ConfigError } from './settings';

/** Where node-postgres, the broker's driver, would connect for this URL (it connects nowhere until asked). */
const driver = (connectionString: string) => {
  const c = new Client({ connectionString });
  return { host: c.host, port: c.port, user: c.user, password: c.password, database: c.database };
};

describe('Postgres URLs', () => {
  it('reads a Unix socket given in ?host= beside an empty host, as node-postgres does', () => {
    const url = 'postgresql://gearshift:s%40cret@/gearshift?host=/var/run/postgresql';
    assert.deepEqual(parsePostgresUrl(url), { socketDir: '/var/run/postgresql', port: 5432, user: 'gearshift', password: 's@cret', database: 'gearshift' });
    assert.deepEqual(driver(url), { host: '/var/run/postgresql', port: 5432, user: 'gearshift', password: 's@cret', database: 'gearshift' });
  });

  it('reads a Unix socket percent-encoded in the host, with its port naming the socket file', () => {
    const url = 'postgres://app:pw@%2Frun%2Fpostgresql:5433/shop';
    assert.deepEqual(parsePostgresUrl(url), { socketDir: '/run/postgresql', port: 5433, user: 'app', password: 'pw', database: 'shop' });
    assert.deepEqual(driver(url), { host: '/run/postgresql', port: 5433, user: 'app', password: 'pw', database: 'shop' });
  });

  it('reads a TCP URL as before: a name, an IPv4 or IPv6 address, the default port', () => {
    assert.deepEqual(parsePostgresUrl('postgresql://gearshift:gearshift@127.0.0.1:5432/gearshift'), {
      host: '127.0.0.1',
      port: 5432,
      user: 'gearshift',
      password: 'gearshift',
      database: 'gearshift',
    });
    assert.deepEqual(parsePostgresUrl('postgresql://u@db.example/x?sslmode=require'), {
      host: 'db.example',
      port: 5432,
      user: 'u',
      password: '',
      database: 'x',
    });
    assert.equal(parsePostgresUrl('postgresql://u:p@[fd00::5]:6432/x').host, 'fd00::5');
    assert.equal(parsePostgresUrl('postgresql://u:p@[fd00::5]:6432/x').port, 6432);
  });

  it('lets ?host= and ?port= take the place of the host and port, as libpq and node-postgres do', () => {
    const url = 'postgresql://u:p@ignored:1/x?host=/tmp&port=5499';
    const both = parsePostgresUrl(url);
    assert.deepEqual([both.socketDir, both.host, both.port], ['/tmp', undefined, 5499]);
    assert.deepEqual([driver(url).host, driver(url).port], ['/tmp', 5499]);
  });

  it('refuses a URL with no host at all (libpq and node-postgres would go to different servers), naming the setting', () => {
    assert.throws(
      () => parsePostgresUrl('postgresql://u:secret@/x', 'DATABASE_URL'),
      (err: Error) => err instanceof ConfigError && /^DATABASE_URL names no host/.test(err.message) && !err.message.includes('secret'),
    );
  });

  it('refuses what is not a Postgres URL without showing its password', () => {
    for (const bad of [
      'mysql://u:secret@db/x',
      'postgresql://u:se@cret@db:0/x',
      'postgresql:/x',
      'postgresql://u:secret@db:99999/x',
      'postgresql://u:secret@db:port/x',
      'not a url',
    ]) {
      assert.throws(
        () => parsePostgresUrl(bad, 'DATABASE_URL'),
        (err: Error) => err instanceof ConfigError && err.message.startsWith('DATABASE_URL ') && !/secret|cret/.test(err.message),
        bad,
      );
    }
  });

  it('takes ?user= and ?password= over those before the host, as node-postgres does, and never shows them', () => {
    const url = 'postgresql://app:pw@db.example/shop?password=q%26r&sslmode=require';
    assert.deepEqual(parsePostgresUrl(url), { host: 'db.example', port: 5432, user: 'app', password: 'q&r', database: 'shop' });
    assert.equal(driver(url).password, 'q&r');
    assert.deepEqual(parsePostgresUrl('postgresql://app@/shop?host=/run/pg&user=other'), {
      socketDir: '/run/pg',
      port: 5432,
      user: 'other',
      password: '',
      database: 'shop',
    });
    assert.equal(withoutPostgresPassword(url), 'postgresql://app@db.example/shop?sslmode=require');
    assert.equal(withoutPostgresPassword('postgresql://app@/shop?password=q&host=/run/postgresql'), 'postgresql://app@/shop?host=/run/postgresql');
    assert.equal(withoutPostgresPassword('postgresql://app@/shop?password=q'), 'postgresql://app@/shop');
    assert.equal(withoutPostgresPassword('postgresql://app@h/shop?options=-c%20a%3Db+c&password=q'), 'postgresql://app@h/shop?options=-c%20a%3Db+c');
    assert.throws(
      () => parsePostgresUrl('postgresql://app@db.example:99999/shop?sslmode=require&password=topsecret', 'DATABASE_URL'),
      (err: Error) => err instanceof ConfigError && !err.message.includes('topsecret'),
    );
    assert.throws(
      () => parsePostgresUrl('postgresql://app@db[x/shop?password=topsecret', 'DATABASE_URL'),
      (err: Error) => err instanceof ConfigError && err.message.includes('password=***') && !err.message.includes('topsecret'),
    );
  });

  it('names another database on the same server, keeping the socket or host and the query', () => {
    assert.equal(withPostgresDatabase(DEFAULT_DATABASE_URL, 'gst_1'), 'postgresql://gearshift:gearshift@/gst_1?host=/var/run/postgresql');
    assert.equal(withPostgresDatabase('postgres://a:b@%2Ftmp/x', 'postgres'), 'postgres://a:b@%2Ftmp/postgres');
    assert.equal(withPostgresDatabase('postgresql://a:b@10.0.0.5:5432/x?sslmode=require', 'y'), 'postgresql://a:b@10.0.0.5:5432/y?sslmode=require');
    assert.equal(withPostgresDatabase('postgresql://a:b@db', 'y'), 'postgresql://a:b@db/y');
  });

  it('drops the password and nothing else', () => {
    assert.equal(withoutPostgresPassword(DEFAULT_DATABASE_URL), 'postgresql://gearshift@/gearshift?host=/var/run/postgresql');
    assert.equal(withoutPostgresPassword('postgresql://a:b@10.0.0.5:5432/x'), 'postgresql://a@10.0.0.5:5432/x');
    assert.equal(withoutPostgresPassword('postgresql://db/x'), 'postgresql://db/x');
  });

  it('defaults DATABASE_URL to the local socket, and takes a TCP one as given', () => {
    assert.equal(databaseUrlSetting({}), DEFAULT_DATABASE_URL);
    assert.equal(parsePostgresUrl(DEFAULT_DATABASE_URL).socketDir, '/var/run/postgresql');
    const tcp = 'postgresql://gearshift:gearshift@10.0.0.5:5432/gearshift';
    assert.equal(databaseUrlSetting({ DATABASE_URL: tcp }), tcp);
    assert.throws(() => databaseUrlSetting({ DATABASE_URL: 'redis://x' }), /^ConfigError: DATABASE_URL must be a postgresql:\/\//);
  });
});
