import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Autoscaling bounds and target, idling, and the `idle` desired state of apps. */
export class AutoscaleIdle1732500000000 implements MigrationInterface {
  name = 'AutoscaleIdle1732500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      alter table apps
        add column autoscale_min integer check (autoscale_min >= 1),
        add column autoscale_max integer check (autoscale_max >= autoscale_min),
        add column autoscale_target integer check (autoscale_target >= 1),
        add column idle_after_seconds integer check (idle_after_seconds >= 1),
        add column last_scaled_at timestamptz;
      alter table apps drop constraint apps_desired_state_check;
      alter table apps add constraint apps_desired_state_check check (desired_state in ('started', 'stopped', 'idle', 'deleting'));
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      update apps set desired_state = 'started' where desired_state = 'idle';
      alter table apps drop constraint apps_desired_state_check;
      alter table apps add constraint apps_desired_state_check check (desired_state in ('started', 'stopped', 'deleting'));
      alter table apps
        drop column autoscale_min, drop column autoscale_max, drop column autoscale_target,
        drop column idle_after_seconds, drop column last_scaled_at;
    `);
  }
}
