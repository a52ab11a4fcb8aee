import { Column, CreateDateColumn, Entity, OneToMany, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { GearSize } from '@gearshift/cartridges';
import { AppCartridge } from './app-cartridge.entity';
import { Gear } from './gear.entity';

/** What the user asked for: `started` apps should have every gear running, `stopped` none. */
export type AppDesiredState = 'started' | 'stopped' | 'deleting';

@Entity('apps')
export class App {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'domain_id', type: 'uuid' }) domainId!: string;
  @Column({ type: 'text' }) name!: string;
  @Column({ name: 'desired_state', type: 'text' }) desiredState!: AppDesiredState;
  @Column({ type: 'text' }) size!: GearSize;
  @Column({ type: 'jsonb', default: {} }) env!: Record<string, string>;
  @OneToMany(() => AppCartridge, (c) => c.app) cartridges?: AppCartridge[];
  @OneToMany(() => Gear, (g) => g.app) gears?: Gear[];
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}
