import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Host names of an app's web services (gearshift.yml `services.NAME.hosts`) are held like aliases, in the same table:
 * one host name, one holder, whichever way it was claimed. `service` names the web service a row routes to; null is
 * an alias of the app, set through the API.
 */
export class ServiceHosts1733910000000 implements MigrationInterface {
  name = 'ServiceHosts1733910000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('alter table aliases add column service text');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('delete from aliases where service is not null');
    await q.query('alter table aliases drop column service');
  }
}
