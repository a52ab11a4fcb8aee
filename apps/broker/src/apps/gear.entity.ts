import { Column, CreateDateColumn, Entity, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { GearInside, GearState } from '@gearshift/cartridges';
import { App } from './app.entity';

/** One container of one cartridge for one app, placed on a node. */
@Entity('gears')
export class Gear {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'app_id', type: 'uuid' }) appId!: string;
  @ManyToOne(() => App, (a) => a.gears, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'app_id' }) app?: App;
  @Column({ type: 'text' }) cartridge!: string;
  @Column({ name: 'node_id', type: 'uuid' }) nodeId!: string;
  @Column({ name: 'memory_mb', type: 'integer' }) memoryMb!: number;
  @Column({ type: 'integer', default: 0 }) generation!: number;
  /** The epoch of the gear's assignment to its node (a fencing token): raised each time the gear moves to another node. */
  @Column({ type: 'integer', default: 1 }) epoch!: number;
  /** The release a web gear runs (null: the cartridge's own image). */
  @Column({ name: 'deployment_id', type: 'uuid', nullable: true }) deploymentId!: string | null;
  /** The Procfile process type the gear runs (a worker), from its release; null: the cartridge's own gear (web or service). */
  @Column({ type: 'text', nullable: true }) process!: string | null;
  /** The named service of the app (gearshift.yml `services:`) the gear runs, from its release; null: none. */
  @Column({ type: 'text', nullable: true }) service!: string | null;
  @Column({ type: 'text', default: 'starting' }) state!: GearState;
  @Column({ type: 'jsonb', default: {} }) ports!: Record<string, number>;
  /** Its address on the app's network, for a router on the same node (null until reported). */
  @Column({ type: 'jsonb', nullable: true }) inside!: GearInside | null;
  @Column({ name: 'container_id', type: 'text', nullable: true }) containerId!: string | null;
  @Column({ type: 'text', nullable: true }) message!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}
