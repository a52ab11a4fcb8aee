import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { OperationJobName } from '@gearshift/cartridges';
import type { BaseContext } from './contexts';

export type OperationState = 'queued' | 'running' | 'succeeded' | 'failed';

export interface OperationStep {
  at: string;
  node?: string;
  text: string;
  /**
   * A placement's step: the nodes considered, the chosen one first, and why each was or was not chosen. The first few
   * placements of a change name every node; later ones only the chosen one, and count the others in `passedOver`.
   */
  considered?: { node: string; zone: string | null; chosen: boolean; reason: string }[];
  /** The nodes a placement passed over and did not name in `considered`, counted by why. */
  passedOver?: Record<string, number>;
}

/**
 * Stored as JSON. What every kind may carry is here; what each kind carries is OperationContexts (contexts.ts), read
 * with contextOf().
 */
export interface OperationContext extends BaseContext {
  [key: string]: unknown;
}

/** One asynchronous change to gears and its outcome. */
@Entity('operations')
export class Operation {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'text' }) kind!: string;
  @Column({ name: 'app_id', type: 'uuid', nullable: true }) appId!: string | null;
  @Column({ name: 'user_id', type: 'uuid', nullable: true }) userId!: string | null;
  @Column({ type: 'text' }) state!: OperationState;
  /**
   * What happened, in time order: rows of operation_steps (OperationsRepository reads and adds them), after any the
   * operation's `steps` column holds from before they had rows of their own.
   */
  steps!: OperationStep[];
  @Column({ type: 'text', nullable: true }) error!: string | null;
  /** Nodes that still have to report an outcome; the operation ends when none is left. */
  @Column({ name: 'pending_nodes', type: 'uuid', array: true, default: () => "'{}'" }) pendingNodes!: string[];
  /** The jobs this operation sends, kept so that a crash between commit and enqueue loses nothing. */
  @Column({ type: 'jsonb', default: [] }) dispatch!: { nodeId: string; job: OperationJobName }[];
  /** Operations that run in stages (a deployment: build, roll out, retire) keep where they are here. */
  @Column({ type: 'jsonb', default: {} }) context!: OperationContext;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true }) finishedAt!: Date | null;
}
