import { Global, Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_INTERCEPTOR } from '@nestjs/core';
import type { Cartridge } from '@gearshift/cartridges';
import { BROKER_CONFIG, type BrokerConfig } from './config';
import { ErrorFilter } from './common/error.filter';
import { CertificateAuthority } from './common/certificates';
import { loadSecretKey } from './common/secrets';
import { BodyInterceptor } from './common/body';
import { CATALOG } from './cartridges/catalog.service';
import { LoggerModule } from 'nestjs-pino';
import { brokerLogging } from './common/http-requests';

/** What every module may use: the config, the cartridge catalog read at start, the CA, the logger; and one error filter. */
@Global()
@Module({})
export class CoreModule {
  static register(config: BrokerConfig, catalog: Map<string, Cartridge>): DynamicModule {
    return {
      module: CoreModule,
      imports: [LoggerModule.forRoot(brokerLogging(config.logLevel))],
      providers: [
        { provide: BROKER_CONFIG, useValue: config },
        { provide: CATALOG, useValue: catalog },
        // The same key that seals secrets derives the CA, so there is nothing more to keep.
        {
          provide: CertificateAuthority,
          useFactory: (c: BrokerConfig) => CertificateAuthority.fromSecretKey(loadSecretKey(c.secretKey, c.dataDir)),
          inject: [BROKER_CONFIG],
        },
        { provide: APP_FILTER, useClass: ErrorFilter },
        { provide: APP_INTERCEPTOR, useClass: BodyInterceptor },
      ],
      exports: [BROKER_CONFIG, CATALOG, CertificateAuthority],
    };
  }
}
