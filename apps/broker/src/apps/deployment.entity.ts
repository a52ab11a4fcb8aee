import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { AppHealth, CronEntry, GearSize, ServiceKind } from '@gearshift/cartridges';
import { sealedValues } from '../common/secrets';
import type { DeploymentSource, DeploymentState } from '@gearshift/cartridges/src/api-types';

export type { DeploymentSource, DeploymentState };

export const HOOK_NAMES = ['pre-build', 'build', 'deploy', 'post-deploy'] as const;
export type HookName = (typeof HOOK_NAMES)[number];

/**
 * One named service as a release runs it: the image its gears run (built from a folder of the source, or named), on
 * which catalogue cartridge (the runtime it was built on, or docker-image), and how it runs.
 */
export interface ServiceAutoscale {
  min: number;
  max: number;
  targetConcurrency: number;
}

export interface ReleaseService {
  kind: ServiceKind;
  image: string;
  cartridge: string;
  /** The folder it is built from (and its Dockerfile and target); absent: it runs a named image. */
  build?: { context: string; dockerfile?: string; target?: string };
  /**
   * A folder built with its own Dockerfile: the runtime cartridge its files call for (package.json: Node.js), whose
   * image its build is offered as ARG GEARSHIFT_CARTRIDGE_IMAGE. Absent when its files name none.
   */
  runtime?: string;
  /** A string runs through a shell, as a Procfile line does. */
  command?: string | string[];
  /** Replaces its image's ENTRYPOINT (`command` is then its arguments); empty: none. */
  entrypoint?: string[];
  workingDir?: string;
  env?: Record<string, string>;
  port?: number;
  health?: AppHealth;
  hosts?: string[];
  size?: GearSize;
  /** Named volumes, and (no name) each gear's own anonymous ones. */
  volumes?: { name?: string; path: string }[];
  dependsOn?: string[];
  scale?: number;
  /** A web service's autoscaling: between min and max gears, aiming at `targetConcurrency` requests a gear. */
  autoscale?: ServiceAutoscale;
  /**
   * Its own `env:` and the app's environment win over what the app's cartridges publish (a gearshift.yml's service).
   * Absent (a compose file's service, or a release made before): the published variables win over its own `env:`,
   * which the compose file wrote for its own database containers, and the app's environment wins over both.
   */
  envOverPublished?: boolean;
  /** The `release:` line of its folder's Procfile: in a release of named services only, it runs once per deployment. */
  release?: string;
}

/** One immutable release of an app: the image built from one source, and the environment it was released with. */
@Entity('deployments')
export class Deployment {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'app_id', type: 'uuid' }) appId!: string;
  @Column({ type: 'integer' }) number!: number;
  @Column({ type: 'text' }) state!: DeploymentState;
  @Column({ type: 'jsonb' }) source!: DeploymentSource;
  @Column({ type: 'text', nullable: true }) image!: string | null;
  @Column({ type: 'text', nullable: true }) dockerfile!: 'recipe' | 'repository' | null;
  @Column({ type: 'jsonb', default: {}, transformer: sealedValues }) env!: Record<string, string>;
  /** The health check the release's web gears must pass, from its gearshift.yml or the app's setting; null: the cartridge's. */
  @Column({ type: 'jsonb', nullable: true }) health!: AppHealth | null;
  /** The release's hooks, by name (pre-build, build, deploy, post-deploy), as shell commands. */
  @Column({ type: 'jsonb', default: {} }) hooks!: Partial<Record<HookName, string>>;
  /** The Procfile's process types and their commands (empty: no Procfile, or a Dockerfile build). */
  @Column({ type: 'jsonb', default: {} }) processes!: Record<string, string>;
  /** The named services of its gearshift.yml, by name: what each one's gears run while it is the app's release. */
  @Column({ type: 'jsonb', default: {} }) services!: Record<string, ReleaseService>;
  /** The `cron:` entries of its gearshift.yml: while it is the app's release, they run on their schedules. */
  @Column({ type: 'jsonb', default: [] }) cron!: CronEntry[];
  /** The build's output, its last 64 KB. */
  @Column({ type: 'text', default: '' }) log!: string;
  @Column({ type: 'text', nullable: true }) error!: string | null;
  /** Lets the building node fetch the source once; cleared when the build ends. */
  @Column({ name: 'source_token', type: 'text', nullable: true }) sourceToken!: string | null;
  /** Its image was removed (only the newest releases are kept). */
  @Column({ type: 'boolean', default: false }) pruned!: boolean;
  @Column({ name: 'user_id', type: 'uuid', nullable: true }) userId!: string | null;
  @Column({ name: 'operation_id', type: 'uuid', nullable: true }) operationId!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true }) finishedAt!: Date | null;
}
