import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { CartridgeManifest } from '@gearshift/cartridges';

/** The catalogue as the broker last loaded it from the cartridge folders. */
@Entity('cartridges')
export class CartridgeRecord {
  @PrimaryColumn({ type: 'text' }) name!: string;
  @Column({ type: 'text' }) version!: string;
  @Column({ type: 'text' }) hash!: string;
  @Column({ type: 'jsonb' }) manifest!: CartridgeManifest;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}
