import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * When each unresolved dispatch was last looked up on the platform, so that reconciliation looks
 * up the longest-waiting first and none waits behind others that keep failing.
 */
export class ReconcileLookups1796710000000 implements MigrationInterface {
  name = 'ReconcileLookups1796710000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE dispatch_intents ADD COLUMN looked_up_at timestamptz(3)`);
    await queryRunner.query(
      `CREATE INDEX dispatch_intents_lookup_idx ON dispatch_intents
         (looked_up_at NULLS FIRST, created_at) WHERE state IN ('calling','lost')`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX dispatch_intents_lookup_idx`);
    await queryRunner.query(`ALTER TABLE dispatch_intents DROP COLUMN looked_up_at`);
  }
}
