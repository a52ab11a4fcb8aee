import { Global, Logger, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { dataSourceOptions } from './data-source';
import { prepareDatabase } from './prepare';
import { UnitOfWork } from './unit-of-work';

/**
 * Postgres for the whole broker. The connection is made, migrated and its clear secrets sealed before any other
 * provider that needs it is built, so nothing reads an old schema; it closes on shutdown.
 */
@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [BROKER_CONFIG],
      useFactory: (config: BrokerConfig) => ({ ...dataSourceOptions(config.databaseUrl), autoLoadEntities: true, retryAttempts: 0, toRetry: () => false }),
      dataSourceFactory: async (options) => {
        const dataSource = await new DataSource(options!).initialize();
        await prepareDatabase(dataSource, new Logger('broker'));
        return dataSource;
      },
    }),
  ],
  providers: [UnitOfWork],
  exports: [UnitOfWork],
})
export class DatabaseModule {}
