import { Column, CreateDateColumn, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import type { Role } from './policy';

/** A team holds domains; its members have a role each. Every user has a personal team, named as the user. */
@Entity('teams')
export class Team {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'text', unique: true }) name!: string;
  /** The user whose personal team this is (null for a team made with POST /teams). */
  @Column({ name: 'personal_user_id', type: 'uuid', nullable: true }) personalUserId!: string | null;
  /** Gears and memory the team's apps may hold in all; null is unlimited. */
  @Column({ name: 'max_gears', type: 'integer', nullable: true }) maxGears!: number | null;
  @Column({ name: 'max_memory_mb', type: 'integer', nullable: true }) maxMemoryMb!: number | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

@Entity('team_members')
export class TeamMember {
  @PrimaryColumn({ name: 'team_id', type: 'uuid' }) teamId!: string;
  @PrimaryColumn({ name: 'user_id', type: 'uuid' }) userId!: string;
  @Column({ type: 'text' }) role!: Role;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}
