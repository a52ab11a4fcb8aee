import type { DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from '../../../../migrations';

/**
 * The broker's Postgres connection. Entities are not listed here: each feature module registers its own
 * (TypeOrmModule.forFeature), and migrations and the start-up steps below need none.
 */
export function dataSourceOptions(url: string): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    extra: { max: 10, connectionTimeoutMillis: 5000 },
  };
}
