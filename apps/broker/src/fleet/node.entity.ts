import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

export type NodeState = 'active' | 'draining';

/** A host with a node agent. Its capacity and liveness come from its heartbeats. */
@Entity('nodes')
export class Node {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'text', unique: true }) name!: string;
  @Column({ type: 'text', default: 'active' }) state!: NodeState;
  /** The failure domain it stands in; an app's replicas spread across zones first (null: a zone of its own). */
  @Column({ type: 'text', nullable: true }) zone!: string | null;
  /** What an operator says of the node (`disk=ssd`). */
  @Column({ type: 'jsonb', default: {} }) labels!: Record<string, string>;
  /** Where this node's published gear ports are reached from routers. */
  @Column({ type: 'text', default: '127.0.0.1' }) address!: string;
  @Column({ name: 'memory_mb', type: 'integer' }) memoryMb!: number;
  @Column({ name: 'max_gears', type: 'integer' }) maxGears!: number;
  @Column({ name: 'last_heartbeat', type: 'timestamptz', nullable: true }) lastHeartbeat!: Date | null;
  /** When the leader broker marked the node lost (its heartbeats stopped); null while it reports. */
  @Column({ name: 'lost_at', type: 'timestamptz', nullable: true }) lostAt!: Date | null;
  @Column({ name: 'agent_rss_mb', type: 'integer', nullable: true }) agentRssMb!: number | null;
  /** The hash of the key made when the node joined; its agent authenticates with the key. */
  @Column({ name: 'key_hash', type: 'text', nullable: true, select: false }) keyHash!: string | null;
  /** Registered before nodes had keys: its first keyless re-registration is given one. */
  @Column({ type: 'boolean', default: false }) legacy!: boolean;
  /** The X25519 public key the node's agent made; every secret of a job to the node is sealed for it. */
  @Column({ name: 'public_key', type: 'text', nullable: true, select: false }) publicKey!: string | null;
  /** SHA-256 (hex) of the password of the node's own Redis user, to make the user again after Redis lost it. */
  @Column({ name: 'redis_password_hash', type: 'text', nullable: true, select: false }) redisPasswordHash!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

@Entity('node_join_tokens')
export class NodeJoinToken {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'token_hash', type: 'text', unique: true }) tokenHash!: string;
  @Column({ name: 'created_by', type: 'uuid', nullable: true }) createdBy!: string | null;
  @Column({ name: 'expires_at', type: 'timestamptz' }) expiresAt!: Date;
  /** Nodes it may still admit; null: any number (the broker host's own token). */
  @Column({ name: 'uses_left', type: 'integer', nullable: true }) usesLeft!: number | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}
