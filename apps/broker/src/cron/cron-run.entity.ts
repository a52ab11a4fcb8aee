import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** `running` until it ends `succeeded` (exit code 0) or `failed`; `skipped` when the entry's last run was still going. */
export type CronRunState = 'running' | 'succeeded' | 'failed' | 'skipped';

/** One scheduled time of one cron entry of an app, and what came of it. */
@Entity('cron_runs')
export class CronRun {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'app_id', type: 'uuid' }) appId!: string;
  @Column({ type: 'text' }) schedule!: string;
  @Column({ type: 'text' }) command!: string;
  @Column({ type: 'text', nullable: true }) process!: string | null;
  /** The named service it ran in (gearshift.yml `services:`); null: a process of the release's image. */
  @Column({ type: 'text', nullable: true }) service!: string | null;
  /** The release it ran in. */
  @Column({ type: 'integer' }) release!: number;
  /** The time the schedule named: with the entry, it names the run. */
  @Column({ name: 'due_at', type: 'timestamptz' }) dueAt!: Date;
  @Column({ type: 'text' }) state!: CronRunState;
  @Column({ name: 'started_at', type: 'timestamptz', nullable: true }) startedAt!: Date | null;
  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true }) finishedAt!: Date | null;
  @Column({ name: 'exit_code', type: 'integer', nullable: true }) exitCode!: number | null;
  /** Its output, the last CRON_OUTPUT_BYTES of it. */
  @Column({ type: 'text', default: '' }) output!: string;
  /** Why it could not run, or was skipped. */
  @Column({ type: 'text', nullable: true }) error!: string | null;
  /** The broker that ran it. */
  @Column({ type: 'text', nullable: true }) broker!: string | null;
}
