import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { sealedText } from '../common/secrets';

/** A custom host name of an app; with a certificate and key, the router also serves it over TLS. */
@Entity('aliases')
export class Alias {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'app_id', type: 'uuid' }) appId!: string;
  @Column({ type: 'text', unique: true }) host!: string;
  /** The web service the host name routes to (gearshift.yml `services.NAME.hosts`); null: the app's own alias. */
  @Column({ type: 'text', nullable: true }) service!: string | null;
  @Column({ type: 'text', nullable: true }) certificate!: string | null;
  @Column({ name: 'private_key', type: 'text', nullable: true, transformer: sealedText }) privateKey!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}
