import {
  Check,
  Column,
  Entity,
  Index,
  JoinColumn,
  OneToOne,
  PrimaryColumn,
  PrimaryGeneratedColumn,
} from 'typeorm';
import { CommandEntity } from '../commands/command.entity.js';

// The platform tables as TypeORM sees them, for `npm run migration:generate` only; the service
// reads and writes them with the SQL in dispatch.repository.ts.

@Entity('dispatch_intents')
@Check(
  'dispatch_intents_state_check',
  `state IN ('calling','created','refused','lost','abandoned')`,
)
@Index('dispatch_intents_idempotency_key_idx', ['idempotencyKey'], { unique: true })
@Index('dispatch_intents_command_id_idx', ['commandId'], { unique: true })
@Index('dispatch_intents_unresolved_idx', { synchronize: false })
@Index('dispatch_intents_lookup_idx', { synchronize: false })
export class DispatchIntentEntity {
  @PrimaryGeneratedColumn('identity', {
    type: 'bigint',
    generatedIdentity: 'ALWAYS',
    primaryKeyConstraintName: 'dispatch_intents_pkey',
  })
  id!: string;

  @Column({ name: 'idempotency_key', type: 'text', collation: 'C', nullable: true })
  idempotencyKey!: string | null;

  @Column({ name: 'request_hash', type: 'text' })
  requestHash!: string;

  @Column({ name: 'device_id', type: 'text', collation: 'C' })
  deviceId!: string;

  @Column({ name: 'service_id', type: 'text' })
  serviceId!: string;

  @Column({ type: 'text' })
  method!: string;

  @Column({ type: 'jsonb' })
  paras!: unknown;

  @Column({ name: 'timeout_seconds', type: 'integer', nullable: true })
  timeoutSeconds!: number | null;

  @Column({ type: 'text' })
  state!: string;

  @Column({ name: 'command_id', type: 'text', collation: 'C', nullable: true })
  commandId!: string | null;

  @Column({ name: 'answer_status', type: 'smallint', nullable: true })
  answerStatus!: number | null;

  @Column({ name: 'answer_body', type: 'text', nullable: true })
  answerBody!: string | null;

  @Column({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt!: Date;

  @Column({ name: 'looked_up_at', type: 'timestamptz', precision: 3, nullable: true })
  lookedUpAt!: Date | null;
}

@Entity('platform_call_budget')
export class PlatformCallBudgetEntity {
  @PrimaryColumn({ type: 'smallint', primaryKeyConstraintName: 'platform_call_budget_pkey' })
  id!: number;

  @Column({ type: 'double precision' })
  tokens!: number;

  @Column({ name: 'refilled_at', type: 'timestamptz' })
  refilledAt!: Date;
}

@Entity('command_reconciliations')
export class CommandReconciliationEntity {
  @PrimaryColumn({
    name: 'command_id',
    type: 'text',
    collation: 'C',
    primaryKeyConstraintName: 'command_reconciliations_pkey',
  })
  commandId!: string;

  @OneToOne(() => CommandEntity, { onDelete: 'CASCADE', createForeignKeyConstraints: true })
  @JoinColumn({
    name: 'command_id',
    referencedColumnName: 'commandId',
    foreignKeyConstraintName: 'command_reconciliations_command_id_fkey',
  })
  command?: CommandEntity;

  @Column({ name: 'checked_at', type: 'timestamptz', precision: 3 })
  checkedAt!: Date;
}
