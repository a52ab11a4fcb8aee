import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { Outcome } from './actions';

/** One change asked of the broker: who (and with which token), from where, when, what, on what, and how it ended. */
@Entity('audit_events')
export class AuditEvent {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @CreateDateColumn({ type: 'timestamptz' }) at!: Date;
  /** No reference to users: the events of a deleted user are kept, with the name they had. */
  @Column({ name: 'actor_id', type: 'uuid', nullable: true }) actorId!: string | null;
  @Column({ name: 'actor_username', type: 'text', nullable: true }) actorUsername!: string | null;
  @Column({ name: 'token_id', type: 'uuid', nullable: true }) tokenId!: string | null;
  /** `login` or `personal`; a personal token's name is kept beside it. */
  @Column({ name: 'token_kind', type: 'text', nullable: true }) tokenKind!: string | null;
  @Column({ name: 'token_name', type: 'text', nullable: true }) tokenName!: string | null;
  @Column({ name: 'source_address', type: 'text', nullable: true }) sourceAddress!: string | null;
  @Column({ type: 'text' }) action!: string;
  @Column({ type: 'text', nullable: true }) target!: string | null;
  @Column({ type: 'text', nullable: true }) domain!: string | null;
  @Column({ name: 'status_code', type: 'integer' }) statusCode!: number;
  @Column({ type: 'text' }) outcome!: Outcome;
  @Column({ name: 'operation_id', type: 'uuid', nullable: true }) operationId!: string | null;
  @Column({ type: 'jsonb', default: () => "'{}'" }) details!: Record<string, unknown>;
}
