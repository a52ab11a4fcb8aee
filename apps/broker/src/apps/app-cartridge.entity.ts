import { Column, CreateDateColumn, Entity, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { sealedValues } from '../common/secrets';
import type { CartridgeOptions } from '@gearshift/cartridges';
import { App } from './app.entity';

/** A cartridge embedded in an app, with the values it generated once (credentials) for that app. */
@Entity('app_cartridges')
export class AppCartridge {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'app_id', type: 'uuid' }) appId!: string;
  @ManyToOne(() => App, (a) => a.cartridges, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'app_id' }) app?: App;
  @Column({ type: 'text' }) cartridge!: string;
  @Column({ type: 'jsonb', default: {}, transformer: sealedValues }) generated!: Record<string, string>;
  /** What the app set for this cartridge: its own gear size; for docker-image, the image and how to run it. */
  @Column({ type: 'jsonb', default: {} }) options!: CartridgeOptions;
  /**
   * The cartridge an upgrade moved this one's data to (null: none). Until the user confirms or aborts the upgrade,
   * this one stays with its gear stopped and its volume kept, and publishes nothing.
   */
  @Column({ name: 'superseded_by', type: 'text', nullable: true }) supersededBy!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}
