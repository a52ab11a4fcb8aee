import { Global, Module } from '@nestjs/common';
import { Leadership } from './leadership.service';

/** Which broker of several leads (see Leadership); every room may ask. */
@Global()
@Module({ providers: [Leadership], exports: [Leadership] })
export class LeadershipModule {}
