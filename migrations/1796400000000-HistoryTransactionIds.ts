import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * The change feed's order: each history row records the id of the transaction that wrote it
 * (`pg_current_xact_id()`, a 64-bit counter that never wraps, stored as bigint), and the feed reads
 * in (xid, id) order, passing a row only once its transaction is older than every transaction still
 * running. Rows written before this migration all get its own transaction id and keep their id order.
 */
export class HistoryTransactionIds1796400000000 implements MigrationInterface {
  name = 'HistoryTransactionIds1796400000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE command_history
        ADD COLUMN xid bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint)`);
    await queryRunner.query(`CREATE INDEX command_history_xid_idx ON command_history (xid, id)`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX command_history_xid_idx`);
    await queryRunner.query(`ALTER TABLE command_history DROP COLUMN xid`);
  }
}
