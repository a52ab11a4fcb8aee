import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppsModule } from '../apps/apps.module';
import { AuditModule } from '../audit/audit.module';
import { DomainsModule } from '../domains/domains.module';
import { LifecycleModule } from '../lifecycle/lifecycle.module';
import { UsersModule } from '../users/users.module';
import { CronRun } from './cron-run.entity';
import { CronController } from './cron.controller';
import { CronRepository } from './cron.repository';
import { CronService } from './cron.service';

/** Cron entries of apps' releases: run on schedule by the leading broker, their runs kept and shown. */
@Module({
  imports: [TypeOrmModule.forFeature([CronRun]), AppsModule, AuditModule, DomainsModule, LifecycleModule, UsersModule],
  controllers: [CronController],
  providers: [CronRepository, CronService],
})
export class CronModule {}
