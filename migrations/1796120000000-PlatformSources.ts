import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * History sources of the platform integration: `iotda` (IoTDA push, HTTP or AMQP), `dispatch`
 * (the platform's answer when this service created or canceled the command) and `reconcile`
 * (read from the platform).
 */
export class PlatformSources1796120000000 implements MigrationInterface {
  name = 'PlatformSources1796120000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE command_history DROP CONSTRAINT command_history_source_check`,
    );
    await queryRunner.query(`
      ALTER TABLE command_history ADD CONSTRAINT command_history_source_check CHECK (source IN
        ('callback','iotda','registration','dispatch','reconcile','sweeper'))`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE command_history DROP CONSTRAINT command_history_source_check`,
    );
    await queryRunner.query(`
      ALTER TABLE command_history ADD CONSTRAINT command_history_source_check CHECK (source IN
        ('callback','registration','sweeper'))`);
  }
}
