import type { Logger } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import { SEALED_PREFIX, sealedText, sealedValues } from '../common/secrets';
import { LOCKS } from './locks';

/** Runs pending migrations while holding an advisory lock, so brokers starting together migrate once. */
export async function migrate(dataSource: DataSource): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('select pg_advisory_lock($1)', [LOCKS.migrations]);
    const done = await dataSource.runMigrations({ transaction: 'each' });
    return done.map((m) => m.name);
  } finally {
    await runner.query('select pg_advisory_unlock($1)', [LOCKS.migrations]).catch(() => undefined);
    await runner.release();
  }
}

/** The sealed columns (see common/secrets): JSON objects whose values are sealed, and sealed text. */
const SEALED_VALUES = [
  { table: 'apps', column: 'env' },
  { table: 'app_cartridges', column: 'generated' },
  { table: 'deployments', column: 'env' },
];
const SEALED_TEXT = [{ table: 'aliases', column: 'private_key' }];

/**
 * Seals the secrets an earlier version stored in clear: each row found is read (values in clear read as they are)
 * and written back (sealed). Returns how many rows it sealed; none on later starts.
 */
export async function sealPlainSecrets(m: EntityManager): Promise<number> {
  let sealed = 0;
  for (const { table, column } of SEALED_VALUES) {
    const rows: { id: string; value: Record<string, string> }[] = await m.query(
      `select id, ${column} as value from ${table} t where exists (select 1 from jsonb_each_text(t.${column}) e where not starts_with(e.value, $1))`,
      [SEALED_PREFIX],
    );
    for (const r of rows) {
      const value = sealedValues.to(sealedValues.from(r.value));
      await m.query(`update ${table} set ${column} = $2 where id = $1`, [r.id, JSON.stringify(value)]);
      sealed++;
    }
  }
  for (const { table, column } of SEALED_TEXT) {
    const rows: { id: string; value: string }[] = await m.query(
      `select id, ${column} as value from ${table} where ${column} is not null and not starts_with(${column}, $1)`,
      [SEALED_PREFIX],
    );
    for (const r of rows) {
      await m.query(`update ${table} set ${column} = $2 where id = $1`, [r.id, sealedText.to(r.value)]);
      sealed++;
    }
  }
  return sealed;
}

/** Before the broker serves: pending migrations under the lock, then the secrets an earlier version left in clear. */
export async function prepareDatabase(dataSource: DataSource, logger: Logger): Promise<void> {
  const applied = await migrate(dataSource);
  if (applied.length > 0) logger.log(`applied migrations: ${applied.join(', ')}`);
  const sealed = await sealPlainSecrets(dataSource.manager);
  if (sealed > 0) logger.log(`sealed the secrets of ${sealed} row(s) stored in clear by an earlier version`);
}
