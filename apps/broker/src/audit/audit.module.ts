import { Module, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { UsersModule } from '../users/users.module';
import { AuditEvent } from './audit-event.entity';
import { AuditController } from './audit.controller';
import { AuditMiddleware } from './audit.middleware';
import { AuditRepository } from './audit.repository';
import { AuditService } from './audit.service';

/** The audit log: every changing call of the API recorded in one place (the middleware), and read back. */
@Module({
  imports: [TypeOrmModule.forFeature([AuditEvent]), UsersModule],
  controllers: [AuditController],
  providers: [AuditRepository, AuditService, AuditMiddleware],
  exports: [AuditService],
})
export class AuditModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(AuditMiddleware).forRoutes('*');
  }
}
