import { Column, CreateDateColumn, Entity, OneToMany, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { sealedValues } from '../common/secrets';
import type { AppHealth, GearSize, LinuxCapability } from '@gearshift/cartridges';
import { AppCartridge } from './app-cartridge.entity';
import { Gear } from './gear.entity';
import type { ServiceAutoscale } from './deployment.entity';

/**
 * What the user (or the platform) asked for: `started` apps run every gear, `stopped` none, `idle` apps keep their
 * services but not their web gears until the next request wakes them.
 */
export type AppDesiredState = 'started' | 'stopped' | 'idle' | 'deleting';

/** What an administrator allows an app's docker-image gears beyond the restricted default. */
export interface AppSecurityOverride {
  /** Run as root (uid 0) whatever user the image names. */
  runAsRoot?: boolean;
  /** Capabilities added back after every one is dropped. */
  capabilities?: LinuxCapability[];
  /** Mount the image's root filesystem read-only. */
  readOnlyRootfs?: boolean;
}

/**
 * The desired scale of one named service of an app: `scale` gears, set by hand (`scaled`) or by its release. With
 * `autoscale`, the autoscaler moves `scale` between its bounds (the release's, or the ones set by hand when `scaled`)
 * and notes when it last did (`lastScaledAt`, ms since the epoch).
 */
export interface AppServiceScale {
  scale: number;
  scaled?: boolean;
  autoscale?: ServiceAutoscale;
  lastScaledAt?: number;
}

@Entity('apps')
export class App {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'domain_id', type: 'uuid' }) domainId!: string;
  @Column({ type: 'text' }) name!: string;
  @Column({ name: 'desired_state', type: 'text' }) desiredState!: AppDesiredState;
  @Column({ type: 'text' }) size!: GearSize;
  @Column({ type: 'jsonb', default: {}, transformer: sealedValues }) env!: Record<string, string>;
  /** Autoscaling of the web cartridge between min and max, aiming at `autoscaleTarget` concurrent requests a gear. */
  @Column({ name: 'autoscale_min', type: 'integer', nullable: true }) autoscaleMin!: number | null;
  @Column({ name: 'autoscale_max', type: 'integer', nullable: true }) autoscaleMax!: number | null;
  @Column({ name: 'autoscale_target', type: 'integer', nullable: true }) autoscaleTarget!: number | null;
  @Column({ name: 'idle_after_seconds', type: 'integer', nullable: true }) idleAfterSeconds!: number | null;
  @Column({ name: 'last_scaled_at', type: 'timestamptz', nullable: true }) lastScaledAt!: Date | null;
  /** The release the app's web gears run; null until code is first deployed (the cartridge's starter runs). */
  @Column({ name: 'active_deployment_id', type: 'uuid', nullable: true }) activeDeploymentId!: string | null;
  /** The app's own health check for the web gears of its next releases; null: the web cartridge's. */
  @Column({ type: 'jsonb', nullable: true }) health!: AppHealth | null;
  /** Set by an administrator only; null: docker-image gears get the restricted default. */
  @Column({ name: 'security_override', type: 'jsonb', nullable: true }) securityOverride!: AppSecurityOverride | null;
  /** How many gears each of the app's named services runs (its release's `scale`, or what it was scaled to). */
  @Column({ type: 'jsonb', default: {} }) services!: Record<string, AppServiceScale>;
  /** Why the app cannot fully run (its data was on a lost node); null when nothing is wrong. */
  @Column({ type: 'text', nullable: true }) degraded!: string | null;
  @OneToMany(() => AppCartridge, (c) => c.app) cartridges?: AppCartridge[];
  @OneToMany(() => Gear, (g) => g.app) gears?: Gear[];
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}
