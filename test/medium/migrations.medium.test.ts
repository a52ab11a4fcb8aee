import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { MIGRATIONS } from '../../migrations';
import { dataSourceOptions } from '../../apps/broker/src/database/data-source';
import { migrate } from '../../apps/broker/src/database/prepare';
import { databaseUrl, dropDatabase, PG_ADMIN_URL } from '../support/stores';

/**
 * Upgrades start from any schema Gearshift has shipped: for each migration k, a database migrated up to k gets rows
 * of every table that exists at k (a user, a team, a domain, an app, a node, a gear ...), then the rest of the
 * migrations run. The rows are still there, no constraint is left unchecked, and the schema is the one a fresh
 * database gets. A migration that cannot take the rows an earlier schema holds fails the test of that k.
 */

async function admin<T>(work: (pg: Client) => Promise<T>): Promise<T> {
  const pg = new Client({ connectionString: PG_ADMIN_URL });
  await pg.connect();
  try {
    return await work(pg);
  } finally {
    await pg.end();
  }
}

/** Migrates a new database with `migrations` (all by default); returns its name. */
async function migratedDatabase(tag: string, migrations = MIGRATIONS): Promise<string> {
  const database = `gst_migrations_${tag}_${randomBytes(3).toString('hex')}`;
  await admin((pg) => pg.query(`create database ${database}`));
  await runMigrations(database, migrations);
  return database;
}

async function runMigrations(database: string, migrations = MIGRATIONS): Promise<string[]> {
  const ds = await new DataSource({ ...dataSourceOptions(databaseUrl(database)), migrations, extra: { max: 2 } }).initialize();
  try {
    return await migrate(ds);
  } finally {
    await ds.destroy();
  }
}

/** One representative row; only the columns its table has at the schema being tested are written. */
interface Row {
  table: string;
  /** The columns that find the row again after the upgrade. */
  key: string[];
  values: Record<string, unknown>;
}

function representativeRows(): Row[] {
  const user = randomUUID();
  const team = randomUUID();
  const domain = randomUUID();
  const node = randomUUID();
  const app = randomUUID();
  const operation = randomUUID();
  const deployment = randomUUID();
  const later = new Date(Date.now() + 86_400_000);
  return [
    { table: 'users', key: ['id'], values: { id: user, username: 'ann', password_hash: 'x', is_admin: false, disabled: false } },
    {
      table: 'api_tokens',
      key: ['id'],
      values: { id: randomUUID(), user_id: user, token_hash: randomUUID(), expires_at: later, kind: 'personal', name: 'ci', scopes: ['read'] },
    },
    { table: 'teams', key: ['id'], values: { id: team, name: 'shop-team', max_gears: 10, max_memory_mb: 4096 } },
    { table: 'team_members', key: ['team_id', 'user_id'], values: { team_id: team, user_id: user, role: 'developer' } },
    { table: 'domains', key: ['id'], values: { id: domain, name: 'shop', owner_id: user, team_id: team } },
    { table: 'cartridges', key: ['name'], values: { name: 'static', version: '1.0', hash: 'abc', manifest: JSON.stringify({ name: 'static' }) } },
    {
      table: 'nodes',
      key: ['id'],
      values: { id: node, name: 'node1', state: 'active', memory_mb: 4096, max_gears: 20, address: '10.0.0.2', key_hash: 'k', public_key: 'pk' },
    },
    { table: 'node_join_tokens', key: ['token_hash'], values: { token_hash: randomUUID(), created_by: user, expires_at: later, uses_left: 1 } },
    {
      table: 'apps',
      key: ['id'],
      values: {
        id: app,
        domain_id: domain,
        name: 'web',
        desired_state: 'started',
        size: 'small',
        env: JSON.stringify({ GREETING: 'hello' }),
        autoscale_min: 1,
        autoscale_max: 3,
        autoscale_target: 50,
        idle_after_seconds: 600,
      },
    },
    { table: 'app_cartridges', key: ['app_id', 'cartridge'], values: { app_id: app, cartridge: 'static', generated: '{}', options: '{}' } },
    { table: 'operations', key: ['id'], values: { id: operation, kind: 'app.create', app_id: app, user_id: user, state: 'succeeded', steps: '[]' } },
    { table: 'operation_steps', key: ['operation_id', 'text'], values: { operation_id: operation, at: new Date(), node: 'node-1', text: 'created' } },
    {
      table: 'deployments',
      key: ['id'],
      values: { id: deployment, app_id: app, number: 1, state: 'active', source: JSON.stringify({ kind: 'git' }), user_id: user, operation_id: operation },
    },
    {
      table: 'gears',
      key: ['app_id', 'cartridge'],
      values: {
        app_id: app,
        cartridge: 'static',
        node_id: node,
        memory_mb: 128,
        state: 'running',
        ports: JSON.stringify({ http: 32000 }),
        deployment_id: deployment,
      },
    },
    { table: 'aliases', key: ['host'], values: { app_id: app, host: 'www.shop.example' } },
    {
      table: 'audit_events',
      key: ['action'],
      values: { action: 'app.create', actor_id: user, target: 'web', domain: 'shop', status_code: 201, outcome: 'ok' },
    },
  ];
}

/** Each table's columns, in `database` as it is now. */
async function columnsOf(pg: Client): Promise<Map<string, Set<string>>> {
  const { rows } = await pg.query<{ table_name: string; column_name: string }>(
    `select table_name, column_name from information_schema.columns where table_schema = 'public'`,
  );
  const tables = new Map<string, Set<string>>();
  for (const r of rows) tables.set(r.table_name, (tables.get(r.table_name) ?? new Set()).add(r.column_name));
  return tables;
}

/** Columns (with type, nullability, default) and constraints: what the migrations made, to compare two databases. */
async function schemaOf(database: string): Promise<string[]> {
  const pg = new Client({ connectionString: databaseUrl(database) });
  await pg.connect();
  try {
    const columns = await pg.query<{ line: string }>(
      `select format('%s.%s %s %s %s', table_name, column_name, data_type, is_nullable, coalesce(column_default, '')) as line
         from information_schema.columns where table_schema = 'public'`,
    );
    const constraints = await pg.query<{ line: string }>(
      `select format('%s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid)) as line
         from pg_constraint where connamespace = 'public'::regnamespace`,
    );
    const indexes = await pg.query<{ line: string }>(`select indexdef as line from pg_indexes where schemaname = 'public'`);
    return [...columns.rows, ...constraints.rows, ...indexes.rows].map((r) => r.line).sort();
  } finally {
    await pg.end();
  }
}

describe('migrations from every earlier schema', { timeout: 600_000 }, () => {
  let fresh: string[] = [];

  before(async () => {
    const database = await migratedDatabase('fresh');
    try {
      fresh = await schemaOf(database);
    } finally {
      await dropDatabase(database);
    }
  });

  for (const [k, migration] of MIGRATIONS.entries()) {
    const name = migration.name;
    if (k === MIGRATIONS.length - 1) continue; // nothing runs after the last one
    describe(`from the schema of migration ${k} (${name})`, () => {
      let database = '';
      const rows = representativeRows();
      const written: Row[] = [];
      after(async () => {
        if (database) await dropDatabase(database);
      });

      it(`keeps the rows written at migration ${k} through the ${MIGRATIONS.length - 1 - k} later one(s)`, async () => {
        database = await migratedDatabase(`k${k}`, MIGRATIONS.slice(0, k + 1));
        const pg = new Client({ connectionString: databaseUrl(database) });
        await pg.connect();
        try {
          const tables = await columnsOf(pg);
          for (const row of rows) {
            const columns = tables.get(row.table);
            if (!columns) continue;
            const values = Object.fromEntries(Object.entries(row.values).filter(([c]) => columns.has(c)));
            const names = Object.keys(values);
            await pg
              .query(`insert into ${row.table} (${names.join(', ')}) values (${names.map((_, i) => `$${i + 1}`).join(', ')})`, Object.values(values))
              .catch((err: Error) => assert.fail(`migration ${k} (${name}): a ${row.table} row cannot be written: ${err.message}`));
            written.push({ ...row, values });
          }
        } finally {
          await pg.end();
        }
        assert.ok(
          written.some((r) => r.table === 'apps'),
          'an app is among the rows',
        );

        const applied = await runMigrations(database).catch((err: Error) =>
          assert.fail(`the migrations after ${k} (${name}) fail on the rows of its schema: ${err.message}`),
        );
        assert.deepEqual(
          applied,
          MIGRATIONS.slice(k + 1).map((m) => m.name),
          `the migrations after ${k} (${name}) ran, in order`,
        );

        const after = new Client({ connectionString: databaseUrl(database) });
        await after.connect();
        try {
          for (const row of written) {
            const where = row.key.map((c, i) => `${c} = $${i + 1}`).join(' and ');
            const found = await after.query(
              `select count(*)::int as n from ${row.table} where ${where}`,
              row.key.map((c) => row.values[c]),
            );
            assert.equal(found.rows[0].n, 1, `the ${row.table} row written at migration ${k} (${name}) is still there after the later ones`);
          }
          const unchecked = await after.query<{ conname: string }>(
            `select conname from pg_constraint where connamespace = 'public'::regnamespace and not convalidated`,
          );
          assert.deepEqual(
            unchecked.rows.map((r) => r.conname),
            [],
            `constraints added after ${k} (${name}) hold for its rows`,
          );
          // Every row of every table against every check and foreign key, as if each were added now.
          const checks = await after.query<{ table: string; conname: string; def: string; contype: string }>(
            `select conrelid::regclass::text as table, conname, pg_get_constraintdef(oid) as def, contype
               from pg_constraint where connamespace = 'public'::regnamespace and contype = 'c'`,
          );
          for (const c of checks.rows) {
            const expr = c.def.replace(/^CHECK /, '');
            const broken = await after.query(`select count(*)::int as n from ${c.table} where not coalesce(${expr}, true)`);
            assert.equal(broken.rows[0].n, 0, `constraint ${c.conname} of ${c.table} holds for the rows written at migration ${k} (${name})`);
          }
          const { rows: teamless } = await after.query(`select count(*)::int as n from domains where team_id is null`);
          assert.equal(teamless[0].n, 0, `every domain written at migration ${k} (${name}) has a team`);
        } finally {
          await after.end();
        }
        assert.deepEqual(await schemaOf(database), fresh, `the schema upgraded from migration ${k} (${name}) is the one a fresh database gets`);
      });
    });
  }
});
