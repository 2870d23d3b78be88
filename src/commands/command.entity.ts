import {
  Check,
  Column,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
  PrimaryGeneratedColumn,
} from 'typeorm';
import { COMMAND_STATUSES, REPORT_OUTCOMES, REPORT_SOURCES } from './command-status.js';

// The checks are written from the lists in command-status.ts, so the schema test (entities against
// the migrated database) fails when the code and the migrations disagree on a status, outcome or
// source.
function sqlList(values: readonly string[]): string {
  return values.map((value) => `'${value}'`).join(',');
}

// The schema as TypeORM sees it, so that `npm run migration:generate` diffs entity changes against
// the database. The service itself reads and writes with the SQL in commands.repository.ts.
// Indexes with DESC or partial definitions live in the migrations only (synchronize: false).

@Entity('commands')
@Check('commands_status_check', `status IN (${sqlList(COMMAND_STATUSES)})`)
@Check('commands_rank_check', `rank BETWEEN 0 AND 4`)
@Index('commands_created_idx', { synchronize: false })
@Index('commands_device_created_idx', { synchronize: false })
@Index('commands_status_created_idx', { synchronize: false })
@Index('commands_open_deadline_idx', { synchronize: false })
@Index('commands_finished_updated_idx', { synchronize: false })
@Index('commands_status_updated_idx', { synchronize: false })
@Index('commands_command_idx', { synchronize: false })
export class CommandEntity {
  @PrimaryColumn({
    name: 'command_id',
    type: 'text',
    collation: 'C',
    primaryKeyConstraintName: 'commands_pkey',
  })
  commandId!: string;

  @Column({ name: 'device_id', type: 'text', collation: 'C' })
  deviceId!: string;

  @Column({ type: 'text' })
  status!: string;

  @Column({ type: 'smallint' })
  rank!: number;

  @Column({ name: 'result_detail', type: 'jsonb', nullable: true })
  resultDetail!: unknown;

  @Column({ name: 'service_id', type: 'text', nullable: true })
  serviceId!: string | null;

  @Column({ type: 'text', nullable: true })
  method!: string | null;

  @Column({ type: 'jsonb', nullable: true })
  paras!: unknown;

  @Column({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt!: Date;

  @Column({ type: 'timestamptz', precision: 3 })
  deadline!: Date;

  @Column({ name: 'sent_at', type: 'timestamptz', precision: 3, nullable: true })
  sentAt!: Date | null;

  @Column({ name: 'delivered_at', type: 'timestamptz', precision: 3, nullable: true })
  deliveredAt!: Date | null;

  @Column({ name: 'completed_at', type: 'timestamptz', precision: 3, nullable: true })
  completedAt!: Date | null;

  @Column({ type: 'integer' })
  version!: number;

  /** The command's JSON as docs/api.md gives it, without history; a trigger writes it (CommandApiJson). */
  @Column({ name: 'api_json', type: 'text', insert: false, update: false, select: false })
  apiJson!: string;
}

@Entity('command_history')
@Check('command_history_outcome_check', `outcome IN (${sqlList(REPORT_OUTCOMES)})`)
@Check('command_history_source_check', `source IN (${sqlList(REPORT_SOURCES)})`)
@Index('command_history_command_idx', { synchronize: false })
@Index('command_history_xid_idx', { synchronize: false })
@Index('command_history_received_idx', { synchronize: false })
export class CommandHistoryEntity {
  @PrimaryGeneratedColumn('identity', {
    type: 'bigint',
    generatedIdentity: 'ALWAYS',
    primaryKeyConstraintName: 'command_history_pkey',
  })
  id!: string;

  @Column({ name: 'command_id', type: 'text', collation: 'C' })
  commandId!: string;

  @ManyToOne(() => CommandEntity, {
    onDelete: 'CASCADE',
    createForeignKeyConstraints: true,
  })
  @JoinColumn({
    name: 'command_id',
    referencedColumnName: 'commandId',
    foreignKeyConstraintName: 'command_history_command_id_fkey',
  })
  command?: CommandEntity;

  @Column({ type: 'text' })
  status!: string;

  @Column({ type: 'text' })
  outcome!: string;

  @Column({ type: 'text' })
  source!: string;

  @Column({ name: 'previous_status', type: 'text', nullable: true })
  previousStatus!: string | null;

  @Column({ type: 'integer' })
  version!: number;

  @Column({ name: 'result_detail', type: 'jsonb', nullable: true })
  resultDetail!: unknown;

  @Column({ type: 'jsonb', nullable: true })
  payload!: unknown;

  @Column({ name: 'received_at', type: 'timestamptz', precision: 3 })
  receivedAt!: Date;

  /**
   * The writing transaction's id: the change feed's order (HistoryTransactionIds). The default reads
   * as TypeORM compares it, with the casts of `pg_current_xact_id()::text::bigint` removed.
   */
  @Column({
    type: 'bigint',
    default: () => '((pg_current_xact_id()))',
    insert: false,
    update: false,
    select: false,
  })
  xid!: string;
}
