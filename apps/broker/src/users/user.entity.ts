import { Column, CreateDateColumn, Entity, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';

@Entity('users')
export class User {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'text', unique: true }) username!: string;
  @Column({ name: 'password_hash', type: 'text' }) passwordHash!: string;
  @Column({ name: 'is_admin', type: 'boolean', default: false }) isAdmin!: boolean;
  /** A disabled user can neither log in nor use any of its tokens. */
  @Column({ type: 'boolean', default: false }) disabled!: boolean;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

@Entity('api_tokens')
export class ApiToken {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'user_id', type: 'uuid' }) userId!: string;
  @ManyToOne(() => User, { onDelete: 'CASCADE', eager: true }) @JoinColumn({ name: 'user_id' }) user!: User;
  @Column({ name: 'token_hash', type: 'text', unique: true }) tokenHash!: string;
  /** `login` (made by logging in, every scope) or `personal` (named, scoped, made by its user). */
  @Column({ type: 'text', default: 'login' }) kind!: 'login' | 'personal';
  @Column({ type: 'text', nullable: true }) name!: string | null;
  @Column({ type: 'text', array: true, default: () => "'{admin}'" }) scopes!: string[];
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'expires_at', type: 'timestamptz' }) expiresAt!: Date;
  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true }) lastUsedAt!: Date | null;
}
